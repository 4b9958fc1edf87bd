"""Keystone v3 projects: list, create, show, update, delete; a user's projects; and the
projects the caller's token can be scoped to (GET /auth/projects)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from cloud.api.schema import enveloped
from cloud.identity import admin_selectors, admin_services
from cloud.identity.api.common import IdentityView, not_found, query_bool
from cloud.identity.api.presenters import project_shape
from cloud.identity.api.serializers import ProjectSerializer
from cloud.identity.models import DEFAULT_DOMAIN_ID, Project


def _target(project: Project | None) -> dict:
    if project is None:
        return {}
    return {"target.project.id": project.id, "target.project.domain_id": project.domain_id}


def _filters(params) -> dict:
    return {
        "name": params.get("name"),
        "domain_id": params.get("domain_id"),
        "enabled": query_bool(params, "enabled"),
    }


class ProjectsView(IdentityView):
    """GET /projects, POST /projects"""

    @extend_schema(summary="List projects", responses={200: dict})
    def get(self, request):
        self.authorize("identity:list_projects")
        projects = admin_selectors.project_list(**_filters(request.GET))
        return Response(self.collection("projects", projects, project_shape))

    @extend_schema(
        summary="Create a project",
        request=enveloped("project", ProjectSerializer),
        responses={201: dict},
    )
    def post(self, request):
        self.authorize("identity:create_project")
        data = self.entity("project", ProjectSerializer)
        data.setdefault("domain_id", DEFAULT_DOMAIN_ID)
        project = admin_services.project_create(**data)
        return Response(
            {"project": project_shape(self.base, project)}, status=status.HTTP_201_CREATED
        )


class ProjectView(IdentityView):
    """GET, PATCH, DELETE /projects/{project_id}"""

    def _project(self, rule: str, project_id: str) -> Project:
        project = admin_selectors.project_find(project_id=project_id)
        self.authorize(rule, _target(project))
        if project is None:
            raise not_found("project", project_id)
        return project

    @extend_schema(summary="Show a project", responses={200: dict})
    def get(self, request, project_id: str):
        project = self._project("identity:get_project", project_id)
        return Response({"project": project_shape(self.base, project)})

    @extend_schema(
        summary="Update a project",
        request=enveloped("project", ProjectSerializer),
        responses={200: dict},
    )
    def patch(self, request, project_id: str):
        project = self._project("identity:update_project", project_id)
        changes = self.entity("project", ProjectSerializer, entity_id=project_id)
        project = admin_services.project_update(project=project, changes=changes)
        return Response({"project": project_shape(self.base, project)})

    @extend_schema(summary="Delete a project", responses={204: None})
    def delete(self, request, project_id: str):
        project = self._project("identity:delete_project", project_id)
        admin_services.project_delete(project=project)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserProjectsView(IdentityView):
    """GET /users/{user_id}/projects"""

    @extend_schema(summary="List the projects a user has roles on", responses={200: dict})
    def get(self, request, user_id: str):
        self.authorize("identity:list_user_projects", {"target.user.id": user_id})
        if admin_selectors.user_find(user_id=user_id) is None:
            raise not_found("user", user_id)
        projects = admin_selectors.user_project_list(user_id=user_id, **_filters(request.GET))
        return Response(self.collection("projects", projects, project_shape))


class AuthProjectsView(IdentityView):
    """GET /auth/projects"""

    @extend_schema(summary="List the projects this token can be scoped to", responses={200: dict})
    def get(self, request):
        self.authorize("identity:get_auth_projects")
        projects = admin_selectors.auth_project_list(user_id=self.context.user_id)
        return Response(self.collection("projects", projects, project_shape))
