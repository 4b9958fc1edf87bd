"""Keystone v3 users: list, create, show, update (password and enabled included), delete.

Passwords are hashed by Django and never shown.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from cloud.api.schema import enveloped
from cloud.identity import admin_selectors, admin_services
from cloud.identity.api.common import IdentityView, not_found, query_bool
from cloud.identity.api.presenters import user_shape
from cloud.identity.api.serializers import UserSerializer
from cloud.identity.models import DEFAULT_DOMAIN_ID, User


def _target(user: User | None) -> dict:
    if user is None:
        return {}
    return {"target.user.id": user.id, "target.user.domain_id": user.domain_id}


class UsersView(IdentityView):
    """GET /users, POST /users"""

    @extend_schema(summary="List users", responses={200: dict})
    def get(self, request):
        self.authorize("identity:list_users")
        users = admin_selectors.user_list(
            name=request.GET.get("name"),
            domain_id=request.GET.get("domain_id"),
            enabled=query_bool(request.GET, "enabled"),
        )
        return Response(self.collection("users", users, user_shape))

    @extend_schema(
        summary="Create a user", request=enveloped("user", UserSerializer), responses={201: dict}
    )
    def post(self, request):
        self.authorize("identity:create_user")
        data = self.entity("user", UserSerializer)
        data.setdefault("domain_id", DEFAULT_DOMAIN_ID)
        user = admin_services.user_create(**data)
        return Response({"user": user_shape(self.base, user)}, status=status.HTTP_201_CREATED)


class UserView(IdentityView):
    """GET, PATCH, DELETE /users/{user_id}"""

    def _user(self, rule: str, user_id: str) -> User:
        user = admin_selectors.user_find(user_id=user_id)
        self.authorize(rule, _target(user))
        if user is None:
            raise not_found("user", user_id)
        return user

    @extend_schema(summary="Show a user", responses={200: dict})
    def get(self, request, user_id: str):
        user = self._user("identity:get_user", user_id)
        return Response({"user": user_shape(self.base, user)})

    @extend_schema(
        summary="Update a user", request=enveloped("user", UserSerializer), responses={200: dict}
    )
    def patch(self, request, user_id: str):
        user = self._user("identity:update_user", user_id)
        changes = self.entity("user", UserSerializer, entity_id=user_id)
        user = admin_services.user_update(user=user, changes=changes)
        return Response({"user": user_shape(self.base, user)})

    @extend_schema(summary="Delete a user", responses={204: None})
    def delete(self, request, user_id: str):
        user = self._user("identity:delete_user", user_id)
        admin_services.user_delete(user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)
