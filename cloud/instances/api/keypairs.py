"""Compute API: os-keypairs (list, create or import, show, delete), each user's own.

Shapes follow the microversion as in Nova: `type` (and 201/204 instead of
200/202) from 2.2, an admin's `user_id` from 2.10, limit/marker paging from
2.35, unknown query parameters refused from 2.75, and from 2.92 a public key
is required (no server-side generation) while names may hold '@' and '.'.
"""

from rest_framework import status
from rest_framework.response import Response

from cloud.api.errors import BadRequest
from cloud.api.microversions import APIVersion
from cloud.api.pagination import next_link, paginate
from cloud.api.schema import body
from cloud.identity import keypairs
from cloud.identity.views import ComputeView
from cloud.instances.api import body_schemas as schemas
from cloud.instances.api.presenters import keypair_detail, keypair_summary

RULE = "os_compute_api:os-keypairs:%s"


def _invalid(field: str, reason: str) -> BadRequest:
    return BadRequest(f"Invalid input for field/attribute {field}. {reason}")


def _unexpected(field: str, names: set[str]) -> BadRequest:
    listed = ", ".join(repr(n) for n in sorted(names))
    verb = "was" if len(names) == 1 else "were"
    return _invalid(field, f"Additional properties are not allowed ({listed} {verb} unexpected)")


def _create_params(data: dict, version: APIVersion) -> dict:
    """The `keypair` object of a create body (KEYPAIR_CREATE, its shape and types, was
    checked before the view), with what this microversion adds to Nova's schema."""
    params = data["keypair"]
    allowed = {"name", "public_key"}
    if version.at_least("2.2"):
        allowed.add("type")
    if version.at_least("2.10"):
        allowed.add("user_id")
    if set(params) - allowed:
        raise _unexpected("keypair", set(params) - allowed)
    required = ("name", "public_key") if version.at_least("2.92") else ("name",)
    for name in required:
        if name not in params:
            raise _invalid("keypair", f"'{name}' is a required property")
    keypairs.name_validate(params["name"], allow_at_and_dot=version.at_least("2.92"))
    return params


class _KeypairView(ComputeView):
    query_params: frozenset[str] = frozenset()

    def target_user(self, request) -> str:
        """Whose key pairs: the caller's, or from 2.10 the `user_id` an admin names."""
        if self.version.at_least("2.75"):
            unknown = set(request.GET) - self.query_params
            if unknown:
                raise _unexpected("query parameters", unknown)
        named = request.GET.getlist("user_id") if self.version.at_least("2.10") else []
        return (named[0] if named else None) or self.context.user_id

    def authorize_for(self, action: str, user_id: str) -> None:
        self.authorize(RULE % action, {"user_id": user_id, "project_id": self.context.project_id})


class KeypairListView(_KeypairView):
    """GET /os-keypairs, POST /os-keypairs"""

    query_params = frozenset({"user_id", "limit", "marker"})

    def get(self, request):
        user_id = self.target_user(request)
        self.authorize_for("index", user_id)
        paged = self.version.at_least("2.35")
        qs = keypairs.keypair_list(
            user_id=user_id, marker=request.GET.get("marker") if paged else None
        )
        rows, more = paginate(qs, request.GET) if paged else (list(qs), False)
        body = {"keypairs": [{"keypair": keypair_summary(k, self.version)} for k in rows]}
        if more:
            body["keypairs_links"] = next_link(request, rows[-1].name)
        return Response(body)

    @body(schemas.KEYPAIR_CREATE)
    def post(self, request):
        params = _create_params(request.data, self.version)
        user_id = params.get("user_id") or self.context.user_id
        self.authorize_for("create", user_id)
        key_type = params.get("type", keypairs.SSH)
        private_key = None
        if "public_key" in params:
            keypair = keypairs.keypair_import(
                context=self.context,
                user_id=user_id,
                name=params["name"],
                public_key=params["public_key"],
                key_type=key_type,
            )
        else:
            keypair, private_key = keypairs.keypair_generate(
                context=self.context, user_id=user_id, name=params["name"], key_type=key_type
            )
        body = {**keypair_summary(keypair, self.version), "user_id": keypair.user_id}
        if private_key is not None:
            body["private_key"] = private_key
        created = status.HTTP_201_CREATED if self.version.at_least("2.2") else status.HTTP_200_OK
        return Response({"keypair": body}, status=created)


class KeypairView(_KeypairView):
    """GET /os-keypairs/{name}, DELETE /os-keypairs/{name}"""

    query_params = frozenset({"user_id"})

    def get(self, request, keypair_name: str):
        user_id = self.target_user(request)
        self.authorize_for("show", user_id)
        keypair = keypairs.keypair_get(user_id=user_id, name=keypair_name)
        return Response({"keypair": keypair_detail(keypair, self.version)})

    def delete(self, request, keypair_name: str):
        user_id = self.target_user(request)
        self.authorize_for("delete", user_id)
        keypairs.keypair_delete(user_id=user_id, name=keypair_name)
        deleted = (
            status.HTTP_204_NO_CONTENT if self.version.at_least("2.2") else status.HTTP_202_ACCEPTED
        )
        return Response(status=deleted)
