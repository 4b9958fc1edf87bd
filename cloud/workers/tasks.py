"""Compute tasks: thin entry points that read a payload and call the manager.

Task names are part of the message format; never rename one.
"""

from typing import Any

from cloud.payloads import ActionRequest, BuildRequest, ConsoleRequest, TerminateRequest
from cloud.workers.app import app, manager


@app.task(name="compute.build_and_run_instance")
def build_and_run_instance(payload: dict[str, Any]) -> None:
    manager().build_and_run_instance(BuildRequest.from_dict(payload))


@app.task(name="compute.terminate_instance")
def terminate_instance(payload: dict[str, Any]) -> None:
    manager().terminate_instance(TerminateRequest.from_dict(payload))


@app.task(name="compute.get_diagnostics", ignore_result=False)
def get_diagnostics(instance_uuid: str) -> dict[str, Any] | None:
    return manager().get_diagnostics(instance_uuid)


@app.task(name="compute.list_instances", ignore_result=False)
def list_instances() -> list[str]:
    return manager().list_instance_uuids()


@app.task(name="compute.get_console_output", ignore_result=False)
def get_console_output(payload: dict[str, Any]) -> dict[str, Any]:
    return manager().get_console_output(ConsoleRequest.from_dict(payload)).to_dict()


@app.task(name="compute.reboot_instance")
def reboot_instance(payload: dict[str, Any]) -> None:
    manager().reboot_instance(ActionRequest.from_dict(payload))


@app.task(name="compute.power_off_instance")
def power_off_instance(payload: dict[str, Any]) -> None:
    manager().power_off_instance(ActionRequest.from_dict(payload))


@app.task(name="compute.power_on_instance")
def power_on_instance(payload: dict[str, Any]) -> None:
    manager().power_on_instance(ActionRequest.from_dict(payload))


@app.task(name="compute.pause_instance")
def pause_instance(payload: dict[str, Any]) -> None:
    manager().pause_instance(ActionRequest.from_dict(payload))


@app.task(name="compute.unpause_instance")
def unpause_instance(payload: dict[str, Any]) -> None:
    manager().unpause_instance(ActionRequest.from_dict(payload))


@app.task(name="compute.suspend_instance")
def suspend_instance(payload: dict[str, Any]) -> None:
    manager().suspend_instance(ActionRequest.from_dict(payload))


@app.task(name="compute.resume_instance")
def resume_instance(payload: dict[str, Any]) -> None:
    manager().resume_instance(ActionRequest.from_dict(payload))
