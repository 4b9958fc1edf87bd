"""The compute manager: what a compute host does, between its tasks and its driver.

It reads payloads, drives the hypervisor, and reports every outcome to the
conductor as a payload; it never touches a database. Every operation is
safe to repeat (redelivered messages do no harm). Besides its heartbeat, it
reports what libvirt says of its guests (when it starts and every
`power_sync_interval`) and, when the conductor answers its start with
`compute.reconcile`, finishes or fails the work it had in hand when it stopped.
Every `image_cache_interval` it removes the cached base images no guest uses
(cloud.workers.virt.imagecache); its heartbeat says what the cache holds.
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
    ComputeStarted,
    ConsoleOutput,
    ConsoleRequest,
    GuestStates,
    HostReport,
    Payload,
    ReconcileRequest,
    SpawnResult,
    Terminated,
    TerminateRequest,
    version_key,
)
from cloud.power_state import PowerState
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

    # -- lifecycle --------------------------------------------------------
    def start(self) -> None:
        """Connect, say the host is up, and keep saying it; a host that speaks 1.5 also
        reports its guests now (the conductor answers with the work to reconcile) and
        every `power_sync_interval`."""
        self.driver.init_host(self.config.host)
        self.report_host()
        self._every("heartbeat", self.config.heartbeat_interval, self.report_host)
        self._every("image-cache", self.config.image_cache_interval, self.evict_images)
        if version_key(self.config.payload_version) >= version_key(ComputeStarted.SINCE):
            self._every("power-sync", self.config.power_sync_interval, self.report_power_states)
            self.report_started()

    def stop(self) -> None:
        self._stop.set()

    def _every(self, what: str, interval: float, work: Callable[[], None]) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    work()
                except Exception:
                    log.exception("%s from %s failed; will retry", what, self.config.host)

        threading.Thread(target=loop, name=what, daemon=True).start()

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
            payload_version=self.config.payload_version,
            started_at=self.started_at,
            sent_at=datetime.now(UTC).isoformat(),
            capabilities=dict(self.driver.capabilities),
            image_cache=self.driver.cached_images(),
        )

    def evict_images(self) -> list[str]:
        return self.driver.evict_images(self.config.image_cache_max_age)

    def report_host(self) -> None:
        self.send("conductor.compute_heartbeat", self.host_report())

    def guest_states(self) -> GuestStates:
        sampled_at = datetime.now(UTC).isoformat()
        return GuestStates(
            host=self.config.host, guests=self.driver.power_states(), sampled_at=sampled_at
        )

    def report_power_states(self) -> None:
        self.send("conductor.sync_power_states", self.guest_states())

    def report_started(self) -> None:
        version = self.config.payload_version
        self.send(
            "conductor.compute_started",
            ComputeStarted(
                report=self.host_report().to_dict(version),
                guests=self.guest_states().to_dict(version),
            ),
        )

    # -- instance operations ----------------------------------------------
    def build_and_run_instance(self, request: BuildRequest) -> None:
        instance = request.instance_spec
        log.info("building %s (%s), attempt %d", instance.uuid, instance.name, request.attempt)
        try:
            info = self.driver.spawn(instance)
        except Exception as exc:
            log.warning("build of %s failed: %s", instance.uuid, exc)
            self._build_failed(request, str(exc), traceback.format_exc())
            return
        self._spawned(request, info)

    def _spawned(self, request: BuildRequest, info: InstanceInfo) -> None:
        self.send(
            "conductor.instance_spawned",
            SpawnResult(
                instance_uuid=request.instance_spec.uuid,
                host=self.config.host,
                request_id=request.request_id,
                power_state=info.power_state,
                attempt=request.attempt,
                consoles=self.console_endpoints(request.instance_spec.uuid),
            ),
        )

    def _build_failed(self, request: BuildRequest, message: str, details: str) -> None:
        self.send(
            "conductor.build_failed",
            BuildFailure(
                instance_uuid=request.instance_spec.uuid,
                host=self.config.host,
                request_id=request.request_id,
                attempt=request.attempt,
                message=message[:255],
                details=details,
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

    def console_endpoints(self, instance_uuid: str) -> dict[str, dict[str, Any]] | None:
        """The guest's remote-console endpoints read back from the hypervisor now (its
        ports change whenever it starts), for the conductor to keep; None when they
        could not be read or the hypervisor has none (the conductor then keeps what it
        had: nothing, on a hypervisor without remote consoles)."""
        if not self.driver.capabilities.get("supports_remote_consoles"):
            return None
        try:
            return self.driver.console_endpoints(instance_uuid)
        except HypervisorError as exc:
            log.warning("cannot read the consoles of %s: %s", instance_uuid, exc)
            return None

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
            "conductor.instance_action_done",
            ActionResult(
                **outcome, power_state=info.power_state, consoles=self.console_endpoints(uuid)
            ),
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
        # The message reaches API users: it names no host path or libvirt URI (the
        # worker's log has the details).
        if not self.driver.capabilities.get("supports_console_output"):
            return ConsoleOutput(
                available=False, message="the hypervisor of its host keeps no console log."
            )
        try:
            output = self.driver.get_console_output(request.instance_uuid, request.length)
        except HypervisorError as exc:
            log.warning("console output of %s: %s", request.instance_uuid, exc)
            return ConsoleOutput(
                available=False, message="its host cannot read the guest's console log."
            )
        return ConsoleOutput(available=True, output=output)

    # -- reconcile (after the worker restarted) ----------------------------
    def reconcile(self, request: ReconcileRequest) -> None:
        """Finish or fail the work this host had in hand when its worker stopped: each
        outcome goes to the conductor as the original task's would have. One that
        cannot be handled is logged and left to the conductor's deadlines."""
        for build in request.build_requests:
            self._reconciled(build.instance_spec.uuid, self._finish_build, build)
        for action in request.action_requests:
            self._reconciled(action.instance_uuid, self._finish_action, action)
        for termination in request.terminate_requests:
            self._reconciled(termination.instance_uuid, self.terminate_instance, termination)

    def _reconciled(self, uuid: str, finish: Callable[[Any], None], request: Payload) -> None:
        try:
            finish(request)
        except Exception:
            log.exception("%s: could not reconcile %s", self.config.host, uuid)

    def _finish_build(self, request: BuildRequest) -> None:
        """A build is done when libvirt runs the guest; otherwise it failed here (the
        conductor reschedules it), and any half-built guest is removed."""
        uuid = request.instance_spec.uuid
        info = self.driver.get_info(uuid)
        if info is not None and info.power_state == PowerState.RUNNING:
            log.info("reconcile: the build of %s had finished", uuid)
            self._spawned(request, info)
            return
        if info is not None:
            self.driver.destroy(uuid)
        log.warning("reconcile: the build of %s never finished on %s", uuid, self.config.host)
        self._build_failed(
            request,
            f"The compute worker of {self.config.host} stopped during the build "
            "and libvirt has no running guest for it.",
            "",
        )

    def _finish_action(self, request: ActionRequest) -> None:
        """Redo the action (each driver action is idempotent: a guest already in the
        state asked for is only reported); a reboot is done if the guest runs, and is
        finished as a hard one if it does not (Nova's rule)."""
        redo: dict[str, Callable[[str], InstanceInfo]] = {
            "reboot": self._running_or_hard_reboot,
            "reboot_hard": self._running_or_hard_reboot,
            "stop": self.driver.power_off,
            "start": self.driver.power_on,
            "pause": self.driver.pause,
            "unpause": self.driver.unpause,
            "suspend": self.driver.suspend,
            "resume": self.driver.resume,
        }
        if request.action not in redo:
            log.warning(
                "reconcile: no way to finish %s of %s", request.action, request.instance_uuid
            )
            return
        self._act(request, redo[request.action])

    def _running_or_hard_reboot(self, instance_uuid: str) -> InstanceInfo:
        info = self.driver.get_info(instance_uuid)
        if info is not None and info.power_state == PowerState.RUNNING:
            return info
        return self.driver.reboot(instance_uuid, hard=True)
