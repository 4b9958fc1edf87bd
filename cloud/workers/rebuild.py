"""The compute side of a rebuild or an evacuation: destroy the guest, spawn it again.

For a rebuild the guest is on this host and goes away first; for an evacuation
this host never had it (its own host is down) and the destroy finds nothing.
The new guest comes from the instance spec's image; one that was shut off is
left shut off. Repeating it (a redelivered message) rebuilds again, to the
same end.
"""

import logging
import traceback

from cloud.payloads import ActionResult, RebuildRequest, TaskProgress
from cloud.workers.manager import ComputeManager
from cloud.workers.virt.driver import ComputeDriver, HypervisorError

log = logging.getLogger(__name__)

# The state machine's step the host reports once the old guest is gone.
SPAWNING = "rebuild_spawning"


def power_state_of(driver: ComputeDriver, instance_uuid: str) -> int | None:
    """What the hypervisor says of the guest after a failure; None when it cannot tell."""
    try:
        info = driver.get_info(instance_uuid)
    except HypervisorError:
        return None
    return info.power_state if info is not None else None


def rebuild_instance(manager: ComputeManager, request: RebuildRequest) -> None:
    spec = request.instance_spec
    host = manager.config.host
    outcome = {
        "instance_uuid": spec.uuid,
        "host": host,
        "request_id": request.request_id,
        "action": request.action,
        "task_state": request.task_state,
    }
    try:
        existed = manager.driver.destroy(spec.uuid)
        log.info(
            "%s of %s: the old guest %s",
            request.action,
            spec.uuid,
            "destroyed" if existed else "was not on this host",
        )
        manager.send(
            "conductor.instance_task_progress",
            TaskProgress(
                instance_uuid=spec.uuid,
                host=host,
                request_id=request.request_id,
                action=request.action,
                step=SPAWNING,
                progress=50,
            ),
        )
        info = manager.driver.spawn(spec)
        if request.stopped:
            info = manager.driver.power_off(spec.uuid)
    except Exception as exc:
        log.warning("%s of %s failed: %s", request.action, spec.uuid, exc)
        manager.send(
            "conductor.rebuild_failed",
            ActionResult(
                **outcome,
                power_state=power_state_of(manager.driver, spec.uuid),
                message=str(exc)[:255],
                details=traceback.format_exc(),
            ),
        )
        return
    manager.send(
        "conductor.rebuild_done",
        ActionResult(
            **outcome,
            power_state=info.power_state,
            consoles=manager.console_endpoints(request.instance_spec.uuid),
        ),
    )
