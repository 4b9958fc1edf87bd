"""The consoles a host reports with an outcome (spawned, an action done, a guest defined
by a resize step, rebuilt): kept for the API to issue tokens, while the guest is a live
instance on that host (a late report of a guest deleted or moved meanwhile is dropped)."""

from typing import Any

from cloud.consoles.services import console_endpoints_record
from cloud.instances.selectors import instance_live

# The migration steps after which the guest runs (or is defined) on the reporting host.
DEFINING_STEPS = {"finish_resize", "finish_revert_resize"}


def consoles_reported(*, instance_uuid: str, host: str, consoles: dict[str, Any] | None) -> None:
    if consoles is None:
        return
    instance = instance_live(uuid=instance_uuid)
    if instance is None or instance.host != host:
        return
    console_endpoints_record(instance_uuid=instance_uuid, compute_host=host, endpoints=consoles)
