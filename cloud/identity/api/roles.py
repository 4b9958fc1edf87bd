"""Keystone v3 roles (list, create, show, update, delete), a user's grants on a project,
and role assignments."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound
from cloud.api.schema import enveloped
from cloud.identity import admin_selectors, admin_services
from cloud.identity.api.common import IdentityView, not_found, query_flag
from cloud.identity.api.presenters import assignment_shape, role_shape
from cloud.identity.api.serializers import RoleSerializer
from cloud.identity.models import Role


def _target(role: Role | None) -> dict:
    return {"target.role.id": role.id, "target.role.name": role.name} if role else {}


class RolesView(IdentityView):
    """GET /roles, POST /roles"""

    @extend_schema(summary="List roles", responses={200: dict})
    def get(self, request):
        self.authorize("identity:list_roles")
        roles = admin_selectors.role_list(
            name=request.GET.get("name"), domain_id=request.GET.get("domain_id")
        )
        return Response(self.collection("roles", roles, role_shape))

    @extend_schema(
        summary="Create a role", request=enveloped("role", RoleSerializer), responses={201: dict}
    )
    def post(self, request):
        self.authorize("identity:create_role")
        role = admin_services.role_create(**self.entity("role", RoleSerializer))
        return Response({"role": role_shape(self.base, role)}, status=status.HTTP_201_CREATED)


class RoleView(IdentityView):
    """GET, PATCH, DELETE /roles/{role_id}"""

    def _role(self, rule: str, role_id: str) -> Role:
        role = admin_selectors.role_find(role_id=role_id)
        self.authorize(rule, _target(role))
        if role is None:
            raise not_found("role", role_id)
        return role

    @extend_schema(summary="Show a role", responses={200: dict})
    def get(self, request, role_id: str):
        return Response({"role": role_shape(self.base, self._role("identity:get_role", role_id))})

    @extend_schema(
        summary="Update a role", request=enveloped("role", RoleSerializer), responses={200: dict}
    )
    def patch(self, request, role_id: str):
        role = self._role("identity:update_role", role_id)
        changes = self.entity("role", RoleSerializer, entity_id=role_id)
        role = admin_services.role_update(role=role, changes=changes)
        return Response({"role": role_shape(self.base, role)})

    @extend_schema(summary="Delete a role", responses={204: None})
    def delete(self, request, role_id: str):
        role = self._role("identity:delete_role", role_id)
        admin_services.role_delete(role=role)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _GrantView(IdentityView):
    def _found(self, rule: str, project_id: str, user_id: str, role_id: str | None = None):
        """The project, user (and role) named in the URL, once the rule allows the caller."""
        project = admin_selectors.project_find(project_id=project_id)
        user = admin_selectors.user_find(user_id=user_id)
        role = admin_selectors.role_find(role_id=role_id) if role_id else None
        target = {}
        if project is not None:
            target.update({"target.project.id": project.id})
        if user is not None:
            target.update({"target.user.id": user.id})
        target.update(_target(role))
        self.authorize(rule, target)
        for kind, entity_id, entity in (
            ("project", project_id, project),
            ("user", user_id, user),
            ("role", role_id, role),
        ):
            if entity_id and entity is None:
                raise not_found(kind, entity_id)
        return project, user, role


class GrantsView(_GrantView):
    """GET /projects/{project_id}/users/{user_id}/roles"""

    @extend_schema(summary="List a user's roles on a project", responses={200: dict})
    def get(self, request, project_id: str, user_id: str):
        self._found("identity:list_grants", project_id, user_id)
        roles = admin_selectors.grant_role_list(user_id=user_id, project_id=project_id)
        return Response(self.collection("roles", roles.order_by("name"), role_shape))


def _no_grant(project_id: str, user_id: str, role_id: str) -> NotFound:
    return NotFound(
        f"Could not find role assignment with role: {role_id}, user or group: {user_id}, "
        f"project, domain, or system: {project_id}."
    )


class GrantView(_GrantView):
    """PUT, GET/HEAD, DELETE /projects/{project_id}/users/{user_id}/roles/{role_id}"""

    @extend_schema(summary="Give a user a role on a project", request=None, responses={204: None})
    def put(self, request, project_id: str, user_id: str, role_id: str):
        project, user, role = self._found("identity:create_grant", project_id, user_id, role_id)
        admin_services.grant_create(user=user, project=project, role=role)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Check a user's role on a project", responses={204: None})
    def get(self, request, project_id: str, user_id: str, role_id: str):
        self._found("identity:check_grant", project_id, user_id, role_id)
        if not admin_selectors.grant_exists(
            user_id=user_id, project_id=project_id, role_id=role_id
        ):
            raise _no_grant(project_id, user_id, role_id)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Take a role on a project from a user", responses={204: None})
    def delete(self, request, project_id: str, user_id: str, role_id: str):
        project, user, role = self._found("identity:revoke_grant", project_id, user_id, role_id)
        if not admin_services.grant_revoke(user=user, project=project, role=role):
            raise _no_grant(project_id, user_id, role_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Filters that can only match assignments Stratus never has (groups, domains, the
# system scope, inheritance): any of them makes the list empty.
_NEVER_MATCHED = ("group.id", "scope.domain.id", "scope.system", "scope.OS-INHERIT:inherited_to")


class RoleAssignmentsView(IdentityView):
    """GET /role_assignments"""

    def _check(self, params) -> None:
        """Keystone's refusals of filter combinations that make no sense."""
        for first, second in (
            ("scope.domain.id", "scope.project.id"),
            ("scope.system", "scope.domain.id"),
            ("scope.system", "scope.project.id"),
            ("user.id", "group.id"),
        ):
            if params.get(first) and params.get(second):
                raise BadRequest(f"Specify {first} or {second}, not both.")
        if query_flag(params, "effective") and params.get("group.id"):
            raise BadRequest(
                "Combining effective and group filter will always result in an empty list."
            )
        if query_flag(params, "include_subtree") and not params.get("scope.project.id"):
            raise BadRequest("scope.project.id must be specified if include_subtree is also set.")

    @extend_schema(summary="List role assignments", responses={200: dict})
    def get(self, request):
        self.authorize("identity:list_role_assignments")
        params = request.GET
        self._check(params)
        if any(params.get(name) for name in _NEVER_MATCHED):
            assignments = []
        else:
            assignments = admin_selectors.role_assignment_list(
                user_id=params.get("user.id"),
                project_id=params.get("scope.project.id"),
                role_id=params.get("role.id"),
                effective=query_flag(params, "effective"),
            )
        domains = None
        if query_flag(params, "include_names"):
            domains = admin_selectors.domain_names(
                ids={d for a in assignments for d in (a.user.domain_id, a.project.domain_id)}
            )
        return Response(
            self.collection(
                "role_assignments",
                assignments,
                lambda base, assignment: assignment_shape(base, assignment, domains),
            )
        )
