"""Where a new server may go, as its create request words it: the availability zone (with
an admin's `zone:host[:node]`) and the scheduler hints (`group`, `same_host`,
`different_host`, `query`; other hints are ignored, as Nova does).

Parsing only: cloud.instances.services.server_boot looks the zone, host and group up.
"""

from dataclasses import dataclass, field

from cloud.api.errors import BadRequest
from cloud.api.parsing import parse_uuid
from cloud.scheduler.query import QueryError, parse

HINT_KEYS = ("os:scheduler_hints", "OS-SCH-HNT:scheduler_hints")
HOST_HINTS = ("same_host", "different_host")


@dataclass(frozen=True)
class PlacementRequest:
    availability_zone: str | None = None
    # `zone:host:node` names a host and/or node: only those allowed to force a host may.
    host: str | None = None
    node: str | None = None
    group_id: str | None = None
    # same_host / different_host: instance UUIDs; query: JSON text (cloud.scheduler.query).
    hints: dict[str, list[str] | str] = field(default_factory=dict)

    @property
    def forces_host(self) -> bool:
        return bool(self.host or self.node)


def _zone_and_host(value: str | None) -> tuple[str | None, str | None, str | None]:
    """`zone`, `zone:host`, `zone:host:node` or `zone::node` (an empty zone means any)."""
    if not value:
        return None, None, None
    parts = value.split(":")
    if len(parts) > 3:
        raise BadRequest("Unable to parse availability_zone")
    zone, host, node = (parts + ["", ""])[:3]
    return zone or None, host or None, node or None


def _uuid(value, hint: str) -> str:
    return parse_uuid(value, name=hint)


def _hints(data: dict) -> tuple[str | None, dict]:
    found = [data[key] for key in HINT_KEYS if key in data]
    if not found:
        return None, {}
    hints = found[0]
    if not isinstance(hints, dict):
        raise BadRequest("Invalid input for field/attribute os:scheduler_hints: not an object.")
    group_id = _uuid(hints["group"], "group") if "group" in hints else None
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
    return group_id, parsed


def placement_requested(*, zone: str | None, data: dict) -> PlacementRequest:
    """The zone, host, node, group and host hints of a create request (400 when any is
    malformed)."""
    availability_zone, host, node = _zone_and_host(zone)
    group_id, hints = _hints(data)
    return PlacementRequest(
        availability_zone=availability_zone, host=host, node=node, group_id=group_id, hints=hints
    )
