"""Compute API: os-aggregates (admin): list, create, show, update, delete, and the
add_host / remove_host / set_metadata actions.

Shapes and status codes are Nova's: 200 for create and the actions, integer ids,
`uuid` from 2.41; create answers without hosts and metadata; a non-empty aggregate
cannot be deleted (400); a host already in another zone cannot be added (409).
"""

import re

from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound
from cloud.api.parsing import parse_int
from cloud.api.schema import body
from cloud.hosts import services
from cloud.hosts.api import body_schemas as schemas
from cloud.hosts.api.presenters import aggregate_body
from cloud.hosts.models import Aggregate
from cloud.hosts.selectors import aggregate_get, aggregate_list
from cloud.identity.views import ComputeView

RULE = "os_compute_api:os-aggregates:%s"
# Nova's metadata keys: letters, digits and "-_:. ", 1 to 255 of them.
METADATA_KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")


def _object(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise BadRequest(f"Invalid input for field/attribute {what}: expected an object.")
    return value


def _only(body: dict, allowed: set[str], what: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(
            f"Invalid input for field/attribute {what}: additional properties are not "
            f"allowed ({', '.join(map(repr, unknown))} unexpected)."
        )


def _string(value, field: str, *, strip: bool = False) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"Invalid input for field/attribute {field}: must be a string.")
    if strip:
        value = value.strip()
    if not 1 <= len(value) <= 255 or not value.isprintable():
        raise BadRequest(
            f"Invalid input for field/attribute {field}: must be 1 to 255 printable characters."
        )
    if value != value.strip():
        raise BadRequest(
            f"Invalid input for field/attribute {field}: must not start or end with whitespace."
        )
    return value


def _zone(value, *, strip: bool = False) -> str | None:
    if value is None:
        return None
    zone = _string(value, "availability_zone", strip=strip)
    if ":" in zone:
        raise BadRequest(
            "Invalid input for field/attribute availability_zone: "
            "an availability zone name must not contain ':'."
        )
    return zone


def _aggregate_id(value: str) -> int:
    return parse_int(value, name="id", minimum=0)


def _metadata(value) -> dict[str, str | None]:
    metadata = _object(value, "metadata")
    for key, item in metadata.items():
        if not METADATA_KEY.match(key):
            raise BadRequest(f"Invalid input for field/attribute metadata: invalid key {key!r}.")
        if item is not None and (not isinstance(item, str) or len(item) > 255):
            raise BadRequest(
                f"Invalid input for field/attribute metadata: the value of {key!r} "
                "must be a string of at most 255 characters, or null."
            )
    if "availability_zone" in metadata:
        _zone(metadata["availability_zone"] or None)
    return metadata


class _AggregateView(ComputeView):
    def body(self, aggregate: Aggregate, *, created: bool = False) -> dict:
        return aggregate_body(aggregate, self.version, created=created)

    def reply(self, aggregate: Aggregate) -> Response:
        return Response({"aggregate": self.body(aggregate)})


class AggregateListView(_AggregateView):
    """GET /os-aggregates, POST /os-aggregates"""

    def get(self, request):
        self.authorize(RULE % "index")
        return Response({"aggregates": [self.body(a) for a in aggregate_list()]})

    @body(schemas.AGGREGATE_CREATE)
    def post(self, request):
        self.authorize(RULE % "create")
        data = _object(request.data, "body")
        _only(data, {"aggregate"}, "body")
        body = _object(data.get("aggregate"), "aggregate")
        _only(body, {"name", "availability_zone"}, "aggregate")
        if "name" not in body:
            raise BadRequest("Invalid input for field/attribute aggregate: 'name' is required.")
        aggregate = services.aggregate_create(
            name=_string(body["name"], "name"),
            availability_zone=_zone(body.get("availability_zone")),
        )
        return Response({"aggregate": self.body(aggregate, created=True)})


class AggregateView(_AggregateView):
    """GET, PUT, DELETE /os-aggregates/{id}"""

    def get(self, request, aggregate_id: str):
        self.authorize(RULE % "show")
        aggregate = aggregate_get(aggregate_id=_aggregate_id(aggregate_id))
        if aggregate is None:
            raise NotFound(f"Aggregate {aggregate_id} could not be found.")
        return self.reply(aggregate)

    @body(schemas.AGGREGATE)
    def put(self, request, aggregate_id: str):
        self.authorize(RULE % "update")
        pk = _aggregate_id(aggregate_id)
        data = _object(request.data, "body")
        _only(data, {"aggregate"}, "body")
        body = _object(data.get("aggregate"), "aggregate")
        _only(body, {"name", "availability_zone"}, "aggregate")
        if not body:
            raise BadRequest(
                "Invalid input for field/attribute aggregate: "
                "'name' or 'availability_zone' is required."
            )
        name = _string(body["name"], "name", strip=True) if "name" in body else None
        zone = None
        if "availability_zone" in body:
            # An explicit null asks for "no zone", which Nova refuses as an empty name.
            zone = _zone(body["availability_zone"], strip=True) or ""
        return self.reply(
            services.aggregate_update(aggregate_id=pk, name=name, availability_zone=zone)
        )

    def delete(self, request, aggregate_id: str):
        self.authorize(RULE % "delete")
        services.aggregate_delete(aggregate_id=_aggregate_id(aggregate_id))
        return Response(status=200)


class AggregateActionView(_AggregateView):
    """POST /os-aggregates/{id}/action: add_host, remove_host, set_metadata."""

    @body(schemas.AGGREGATE_ACTION)
    def post(self, request, aggregate_id: str):
        data = _object(request.data, "body")
        if len(data) != 1:
            raise BadRequest("Exactly one action is expected in the request body.")
        action, args = next(iter(data.items()))
        if action not in ("add_host", "remove_host", "set_metadata"):
            raise BadRequest(f"There is no such action: {action}")
        self.authorize(RULE % action)
        pk = _aggregate_id(aggregate_id)
        args = _object(args, action)
        if action == "set_metadata":
            _only(args, {"metadata"}, action)
            if "metadata" not in args:
                raise BadRequest(
                    "Invalid input for field/attribute set_metadata: 'metadata' is required."
                )
            return self.reply(
                services.aggregate_metadata_set(
                    aggregate_id=pk, metadata=_metadata(args["metadata"])
                )
            )
        _only(args, {"host"}, action)
        if "host" not in args:
            raise BadRequest(f"Invalid input for field/attribute {action}: 'host' is required.")
        host = _string(args["host"], "host")
        if action == "add_host":
            return self.reply(services.aggregate_host_add(aggregate_id=pk, host=host))
        return self.reply(services.aggregate_host_remove(aggregate_id=pk, host=host))
