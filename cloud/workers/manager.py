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
    BuildFailure,
    BuildRequest,
    HostReport,
    Payload,
    SpawnResult,
    Terminated,
    TerminateRequest,
)
from cloud.workers.config import ComputeConfig
from cloud.workers.virt.driver import ComputeDriver

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
