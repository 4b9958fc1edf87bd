"""The compute side of a resize: one step on one host, reported to the conductor.

A resize is a chain of compute tasks, each cast by the conductor when the step
before it reported back (no task waits for another): on the source,
`resize_instance` stops the guest; on the destination, `finish_resize` defines
and starts it with the new flavor. Then `confirm_resize` removes the guest from
the source, or `revert_resize` removes it from the destination and
`finish_revert_resize` defines and starts it on the source with the old flavor
again. Each step is idempotent, so a redelivered one does no harm.

The root disk moves with the guest through the image API: when the destination is
another host, the source uploads a flattened copy of the stopped guest's disk
(`disk_upload`: a temporary image the conductor made) and the destination fetches
it (`disk_image`) as the guest's root disk. The source keeps its own until the
resize is confirmed, so a revert finds it there.
"""

import logging
import traceback
from collections.abc import Callable

from cloud.payloads import PAYLOAD_VERSION, ImageSpec, MigrationRequest, MigrationResult
from cloud.workers.manager import ComputeManager
from cloud.workers.virt.driver import ComputeDriver

log = logging.getLogger(__name__)


def _stop(driver: ComputeDriver, request: MigrationRequest) -> int | None:
    power_state = driver.power_off(request.instance_uuid).power_state
    if request.disk_upload:
        driver.upload_root_disk(
            request.instance_uuid,
            url=request.disk_upload["url"],
            token=request.disk_upload["token"],
        )
    return power_state


def _define(driver: ComputeDriver, request: MigrationRequest) -> int | None:
    disk_image = None
    if request.disk_image:
        disk_image = ImageSpec.from_dict({**request.disk_image, "version": PAYLOAD_VERSION})
    info = driver.finish_migration(
        request.instance_spec, power_on=request.power_on, disk_image=disk_image
    )
    return info.power_state


def _remove(driver: ComputeDriver, request: MigrationRequest) -> int | None:
    driver.destroy(request.instance_uuid)
    return None


# compute task (without its "compute." prefix) -> what it does to the guest
STEPS: dict[str, Callable[[ComputeDriver, MigrationRequest], int | None]] = {
    "resize_instance": _stop,
    "finish_resize": _define,
    "confirm_resize": _remove,
    "revert_resize": _remove,
    "finish_revert_resize": _define,
}


def migration_step(manager: ComputeManager, request: MigrationRequest, step: str) -> None:
    """Run one step of a migration on this host and report how it went."""
    outcome = {
        "migration_uuid": request.migration_uuid,
        "instance_uuid": request.instance_uuid,
        "host": manager.config.host,
        "request_id": request.request_id,
        "step": step,
    }
    try:
        power_state = STEPS[step](manager.driver, request)
    except Exception as exc:
        log.warning("%s of %s failed: %s", step, request.instance_uuid, exc)
        manager.send(
            "conductor.migration_step_failed",
            MigrationResult(**outcome, message=str(exc)[:255], details=traceback.format_exc()),
        )
        return
    log.info("%s of %s done", step, request.instance_uuid)
    manager.send(
        "conductor.migration_step_done",
        MigrationResult(
            **outcome,
            power_state=power_state,
            consoles=manager.console_endpoints(request.instance_uuid),
        ),
    )
