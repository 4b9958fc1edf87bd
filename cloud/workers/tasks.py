"""Compute tasks: thin entry points that read a payload and call the manager.

Task names are part of the message format; never rename one.
"""

from typing import Any

from cloud.payloads import (
    ActionRequest,
    AttachVolumeRequest,
    BuildRequest,
    ConsoleRequest,
    DetachVolumeRequest,
    InterfaceRequest,
    MigrationRequest,
    RebuildRequest,
    ReconcileRequest,
    SnapshotRequest,
    TerminateRequest,
)
from cloud.workers import interfaces, rebuild, resize, snapshot, volume_attach
from cloud.workers.app import app, config, manager, read


@app.task(name="compute.build_and_run_instance")
def build_and_run_instance(payload: dict[str, Any]) -> None:
    manager().build_and_run_instance(read(BuildRequest, payload))


@app.task(name="compute.terminate_instance")
def terminate_instance(payload: dict[str, Any]) -> None:
    manager().terminate_instance(read(TerminateRequest, payload))


@app.task(name="compute.get_diagnostics", ignore_result=False)
def get_diagnostics(instance_uuid: str) -> dict[str, Any] | None:
    return manager().get_diagnostics(instance_uuid)


@app.task(name="compute.list_instances", ignore_result=False)
def list_instances() -> list[str]:
    return manager().list_instance_uuids()


@app.task(name="compute.get_console_output", ignore_result=False)
def get_console_output(payload: dict[str, Any]) -> dict[str, Any]:
    answer = manager().get_console_output(read(ConsoleRequest, payload))
    return answer.to_dict(config.payload_version)


@app.task(name="compute.attach_interface", ignore_result=False)
def attach_interface(payload: dict[str, Any]) -> dict[str, Any]:
    answer = interfaces.attach_interface(manager(), read(InterfaceRequest, payload))
    return answer.to_dict(config.payload_version)


@app.task(name="compute.detach_interface", ignore_result=False)
def detach_interface(payload: dict[str, Any]) -> dict[str, Any]:
    answer = interfaces.detach_interface(manager(), read(InterfaceRequest, payload))
    return answer.to_dict(config.payload_version)


@app.task(name="compute.reboot_instance")
def reboot_instance(payload: dict[str, Any]) -> None:
    manager().reboot_instance(read(ActionRequest, payload))


@app.task(name="compute.power_off_instance")
def power_off_instance(payload: dict[str, Any]) -> None:
    manager().power_off_instance(read(ActionRequest, payload))


@app.task(name="compute.power_on_instance")
def power_on_instance(payload: dict[str, Any]) -> None:
    manager().power_on_instance(read(ActionRequest, payload))


@app.task(name="compute.pause_instance")
def pause_instance(payload: dict[str, Any]) -> None:
    manager().pause_instance(read(ActionRequest, payload))


@app.task(name="compute.unpause_instance")
def unpause_instance(payload: dict[str, Any]) -> None:
    manager().unpause_instance(read(ActionRequest, payload))


@app.task(name="compute.suspend_instance")
def suspend_instance(payload: dict[str, Any]) -> None:
    manager().suspend_instance(read(ActionRequest, payload))


@app.task(name="compute.resume_instance")
def resume_instance(payload: dict[str, Any]) -> None:
    manager().resume_instance(read(ActionRequest, payload))


# -- resize: one step each, cast by the conductor (cloud.workers.resize) ----------
@app.task(name="compute.resize_instance")
def resize_instance(payload: dict[str, Any]) -> None:
    resize.migration_step(manager(), read(MigrationRequest, payload), "resize_instance")


@app.task(name="compute.finish_resize")
def finish_resize(payload: dict[str, Any]) -> None:
    resize.migration_step(manager(), read(MigrationRequest, payload), "finish_resize")


@app.task(name="compute.confirm_resize")
def confirm_resize(payload: dict[str, Any]) -> None:
    resize.migration_step(manager(), read(MigrationRequest, payload), "confirm_resize")


@app.task(name="compute.revert_resize")
def revert_resize(payload: dict[str, Any]) -> None:
    resize.migration_step(manager(), read(MigrationRequest, payload), "revert_resize")


@app.task(name="compute.finish_revert_resize")
def finish_revert_resize(payload: dict[str, Any]) -> None:
    resize.migration_step(manager(), read(MigrationRequest, payload), "finish_revert_resize")


@app.task(name="compute.reconcile")
def reconcile(payload: dict[str, Any]) -> None:
    manager().reconcile(read(ReconcileRequest, payload))


# -- rebuild, evacuate and createImage (cloud.workers.rebuild, cloud.workers.snapshot) --
@app.task(name="compute.rebuild_instance")
def rebuild_instance(payload: dict[str, Any]) -> None:
    rebuild.rebuild_instance(manager(), read(RebuildRequest, payload))


@app.task(name="compute.snapshot_instance")
def snapshot_instance(payload: dict[str, Any]) -> None:
    snapshot.snapshot_instance(manager(), read(SnapshotRequest, payload))


# -- volumes (cloud.workers.volume_attach) ------------------------------------------
@app.task(name="compute.attach_volume")
def attach_volume(payload: dict[str, Any]) -> None:
    volume_attach.attach_volume(manager(), read(AttachVolumeRequest, payload))


@app.task(name="compute.detach_volume")
def detach_volume(payload: dict[str, Any]) -> None:
    volume_attach.detach_volume(manager(), read(DetachVolumeRequest, payload))
