"""What every identity administration view shares: request bodies, query filters,
Keystone's collection wrapper, and its not-found message."""

from collections.abc import Callable, Sequence

from django.conf import settings
from rest_framework import serializers

from cloud.api.errors import BadRequest, NotFound, flatten_detail
from cloud.api.views import base_url
from cloud.identity.views import OpenStackView

TRUE = {"true", "t", "yes", "y", "on", "1"}
FALSE = {"false", "f", "no", "n", "off", "0"}


def not_found(kind: str, entity_id: str) -> NotFound:
    return NotFound(f"Could not find {kind}: {entity_id}.")


def query_bool(params, name: str) -> bool | None:
    """An attribute filter such as `enabled=false`; None when not given."""
    raw = params.get(name)
    if raw is None:
        return None
    if raw.lower() in TRUE or raw == "":
        return True
    if raw.lower() in FALSE:
        return False
    raise BadRequest(f"Invalid value for query parameter {name}: {raw!r} is not a boolean.")


def query_flag(params, name: str) -> bool:
    """A switch such as `include_names` or `effective`: on when present, unless `0`
    (Keystone's rule)."""
    return name in params and params.get(name) != "0"


class IdentityView(OpenStackView):
    @property
    def base(self) -> str:
        return base_url(self.request)

    def entity(
        self,
        key: str,
        serializer_class: type[serializers.Serializer],
        *,
        entity_id: str | None = None,
    ) -> dict:
        """The validated `{key: {...}}` body; an update (entity_id given) may be partial."""
        data = self.request.data
        if not isinstance(data, dict) or not isinstance(data.get(key), dict):
            raise BadRequest(f"The request body must be a JSON object with a '{key}' object.")
        serializer = serializer_class(
            data=data[key], partial=entity_id is not None, context={"id": entity_id}
        )
        if not serializer.is_valid():
            raise BadRequest(f"Invalid input for {key}: {flatten_detail(serializer.errors)}")
        return dict(serializer.validated_data)

    def collection(self, key: str, rows: Sequence, shape: Callable) -> dict:
        """Keystone's list body: every row up to the list limit (then `truncated`), and the
        collection's links (Keystone has no pages, so no previous or next)."""
        limit = settings.API_LIST_MAX_LIMIT
        found = list(rows[: limit + 1])
        body = {
            key: [shape(self.base, row) for row in found[:limit]],
            "links": {
                "self": f"{self.base}{self.request.get_full_path()}",
                "previous": None,
                "next": None,
            },
        }
        if len(found) > limit:
            body["truncated"] = True
        return body
