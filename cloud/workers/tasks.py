"""Compute tasks: thin entry points that read a payload and call the manager.

Task names are part of the message format; never rename one.
"""

from typing import Any

from cloud.payloads import BuildRequest, TerminateRequest
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
