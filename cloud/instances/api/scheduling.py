"""Where a new server may go, as its create request asks: the availability zone (with
an admin's `zone:host[:node]`) and the scheduler hints (`group`, `same_host`,
`different_host`, `query`; other hints are ignored, as Nova does).
"""

import uuid as uuidlib
from dataclasses import dataclass, field

from cloud.api.errors import BadRequest
from cloud.hosts.selectors import node_find, zone_names
from cloud.identity import policy
from cloud.identity.context import RequestContext
from cloud.scheduler.models import ServerGroup
from cloud.scheduler.query import QueryError, parse
from cloud.scheduler.selectors import server_group_find

HINT_KEYS = ("os:scheduler_hints", "OS-SCH-HNT:scheduler_hints")
HOST_HINTS = ("same_host", "different_host")


@dataclass(frozen=True)
class Placement:
    availability_zone: str | None = None
    forced_host: str | None = None
    group: ServerGroup | None = None
    # same_host / different_host: instance UUIDs; query: JSON text (cloud.scheduler.query).
    hints: dict[str, list[str] | str] = field(default_factory=dict)


def _zone_and_host(context: RequestContext, value: str | None) -> tuple[str | None, str | None]:
    """`zone`, `zone:host`, `zone:host:node` or `zone::node` (an empty zone means any)."""
    if not value:
        return None, None
    parts = value.split(":")
    if len(parts) > 3:
        raise BadRequest("Unable to parse availability_zone")
    zone, host, node = (parts + ["", ""])[:3]
    forced = None
    if host or node:
        policy.authorize(context, "os_compute_api:servers:create:forced_host")
        found = node_find(host=host or None, node=node or None)
        if found is None:
            raise BadRequest(f"Compute host {':'.join(p for p in (host, node) if p)} not found.")
        forced = found.host
    if zone and zone not in zone_names():
        raise BadRequest("The requested availability zone is not available")
    return zone or None, forced


def _uuid(value, hint: str) -> str:
    try:
        return str(uuidlib.UUID(value))
    except (TypeError, ValueError, AttributeError):
        raise BadRequest(
            f"Invalid input for field/attribute {hint}: {value!r} is not a UUID."
        ) from None


def _hints(context: RequestContext, data: dict) -> tuple[ServerGroup | None, dict]:
    found = [data[key] for key in HINT_KEYS if key in data]
    if not found:
        return None, {}
    hints = found[0]
    if not isinstance(hints, dict):
        raise BadRequest("Invalid input for field/attribute os:scheduler_hints: not an object.")
    group = None
    if "group" in hints:
        group_id = _uuid(hints["group"], "group")
        group = server_group_find(group_id=group_id, context=context)
        if group is None:
            raise BadRequest(f"Instance group {group_id} could not be found.")
    parsed: dict[str, list[str] | str] = {}
    for hint in HOST_HINTS:
        if hint in hints:
            value = hints[hint]
            values = value if isinstance(value, list) else [value]
            parsed[hint] = [_uuid(v, hint) for v in values]
    if "query" in hints:
        try:
            query = parse(hints["query"])
        except QueryError as exc:
            raise BadRequest(f"Invalid input for field/attribute query: {exc}.") from None
        if query is not None:
            parsed["query"] = query.text
    return group, parsed


def placement_requested(*, context: RequestContext, zone: str | None, data: dict) -> Placement:
    """The zone, forced host, group and host hints of a create request (400 when any is
    unknown or malformed; 403 for a host named by a caller who may not)."""
    availability_zone, forced_host = _zone_and_host(context, zone)
    group, hints = _hints(context, data)
    return Placement(
        availability_zone=availability_zone, forced_host=forced_host, group=group, hints=hints
    )
