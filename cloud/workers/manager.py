"""The compute manager: what a compute host does, between its tasks and its driver.

It reads payloads, drives the hypervisor, and reports every outcome to the
conductor as a payload; it never touches a database. Every operation is
safe to repeat (redelivered messages do no harm).
"""

import logging
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cloud.payloads import (
    ActionRequest,
    ActionResult,
    BuildFailure,
    BuildRequest,
    ConsoleOutput,
    ConsoleRequest,
    HostReport,
    Payload,
    SpawnResult,
    Terminated,
    TerminateRequest,
)
from cloud.workers.config import ComputeConfig
from cloud.workers.virt.driver import ComputeDriver, HypervisorError, InstanceInfo

log = logging.getLogger(__name__)

Send = Callable[[str, Payload], None]


class ComputeManager:
    def __init__(self, config: ComputeConfig, driver: ComputeDriver, send: Send) -> None:
        self.config = config
        self.driver = driver
        self.send = send
        self.started_at = datetime.now(UTC).isoformat()
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------
    def start(self) -> None:
        self.driver.init_host(self.config.host)
        self.report_host()
        self._heartbeat = threading.Thread(
            target=self._heartbeat_loop, name="heartbeat", daemon=True
        )
        self._heartbeat.start()

    def stop(self) -> None:
        self._stop.set()

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.config.heartbeat_interval):
            try:
                self.report_host()
            except Exception:
                log.exception("heartbeat from %s failed; will retry", self.config.host)

    def host_report(self) -> HostReport:
        res = self.driver.host_resources()
        return HostReport(
            host=self.config.host,
            hypervisor_type=res.hypervisor_type,
            hypervisor_version=res.hypervisor_version,
            hypervisor_hostname=res.hypervisor_hostname,
            libvirt_uri=self.config.libvirt_uri,
            vcpus=res.vcpus,
            memory_mb=res.memory_mb,
            local_gb=res.local_gb,
            cpu_info=res.cpu_info,
            started_at=self.started_at,
            sent_at=datetime.now(UTC).isoformat(),
        )

    def report_host(self) -> None:
        self.send("conductor.compute_heartbeat", self.host_report())

    # -- instance operations ----------------------------------------------
    def build_and_run_instance(self, request: BuildRequest) -> None:
        instance = request.instance_spec
        log.info("building %s (%s), attempt %d", instance.uuid, instance.name, request.attempt)
        try:
            info = self.driver.spawn(instance)
        except Exception as exc:
            log.warning("build of %s failed: %s", instance.uuid, exc)
            self.send(
                "conductor.build_failed",
                BuildFailure(
                    instance_uuid=instance.uuid,
                    host=self.config.host,
                    request_id=request.request_id,
                    attempt=request.attempt,
                    message=str(exc)[:255],
                    details=traceback.format_exc(),
                ),
            )
            return
        self.send(
            "conductor.instance_spawned",
            SpawnResult(
                instance_uuid=instance.uuid,
                host=self.config.host,
                request_id=request.request_id,
                power_state=info.power_state,
                attempt=request.attempt,
            ),
        )

    def terminate_instance(self, request: TerminateRequest) -> None:
        existed = self.driver.destroy(request.instance_uuid)
        log.info(
            "terminated %s (%s)",
            request.instance_uuid,
            "destroyed" if existed else "was not on this host",
        )
        self.send(
            "conductor.instance_terminated",
            Terminated(
                instance_uuid=request.instance_uuid,
                host=self.config.host,
                request_id=request.request_id,
            ),
        )

    def get_diagnostics(self, instance_uuid: str) -> dict[str, Any] | None:
        return self.driver.get_diagnostics(instance_uuid)

    def list_instance_uuids(self) -> list[str]:
        return self.driver.list_instance_uuids()

    # -- lifecycle actions ------------------------------------------------
    def _act(self, request: ActionRequest, operate: Callable[[str], InstanceInfo]) -> None:
        """Run one driver action and report how it went: done with the guest's power
        state, or failed with the error and whatever power state the host still sees."""
        uuid = request.instance_uuid
        outcome = {
            "instance_uuid": uuid,
            "host": self.config.host,
            "request_id": request.request_id,
            "action": request.action,
            "task_state": request.task_state,
        }
        try:
            info = operate(uuid)
        except Exception as exc:
            log.warning("%s of %s failed: %s", request.action, uuid, exc)
            self.send(
                "conductor.instance_action_failed",
                ActionResult(
                    **outcome,
                    power_state=self._power_state(uuid),
                    message=str(exc)[:255],
                    details=traceback.format_exc(),
                ),
            )
            return
        log.info("%s of %s done (power state %d)", request.action, uuid, info.power_state)
        self.send(
            "conductor.instance_action_done", ActionResult(**outcome, power_state=info.power_state)
        )

    def _power_state(self, instance_uuid: str) -> int | None:
        try:
            info = self.driver.get_info(instance_uuid)
        except HypervisorError:
            return None
        return info.power_state if info is not None else None

    def reboot_instance(self, request: ActionRequest) -> None:
        self._act(request, lambda uuid: self.driver.reboot(uuid, hard=request.hard))

    def power_off_instance(self, request: ActionRequest) -> None:
        self._act(request, self.driver.power_off)

    def power_on_instance(self, request: ActionRequest) -> None:
        self._act(request, self.driver.power_on)

    def pause_instance(self, request: ActionRequest) -> None:
        self._act(request, self.driver.pause)

    def unpause_instance(self, request: ActionRequest) -> None:
        self._act(request, self.driver.unpause)

    def suspend_instance(self, request: ActionRequest) -> None:
        self._act(request, self.driver.suspend)

    def resume_instance(self, request: ActionRequest) -> None:
        self._act(request, self.driver.resume)

    def get_console_output(self, request: ConsoleRequest) -> ConsoleOutput:
        if not self.driver.capabilities.get("supports_console_output"):
            return ConsoleOutput(
                available=False,
                message=(
                    f"The hypervisor of host {self.config.host} ({self.config.libvirt_uri}) "
                    "keeps no console log."
                ),
            )
        try:
            output = self.driver.get_console_output(request.instance_uuid, request.length)
        except HypervisorError as exc:
            return ConsoleOutput(available=False, message=str(exc))
        return ConsoleOutput(available=True, output=output)
