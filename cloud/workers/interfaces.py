"""The compute side of os-interface: a port's interface plugged into, or unplugged
from, a guest of this host while it is defined (`server add/remove port|network`).

The api asks with a synchronous call (InterfaceRequest) and waits for the answer
(InterfaceResult); the driver does the work (live and persistent on QEMU, the
persistent definition on the test hypervisor). The port's wiring on the host is the
network agent's: it plugs the tap the hypervisor makes into the port's bridge.
"""

import logging

from cloud.payloads import InterfaceRequest, InterfaceResult
from cloud.workers.manager import ComputeManager
from cloud.workers.virt.driver import HypervisorError

log = logging.getLogger(__name__)


def _change(manager: ComputeManager, request: InterfaceRequest, attach: bool) -> InterfaceResult:
    vif = request.vif_spec
    verb = "attach" if attach else "detach"
    try:
        operate = manager.driver.attach_interface if attach else manager.driver.detach_interface
        live = operate(request.instance_uuid, vif)
    except HypervisorError as exc:
        # The answer reaches an API user: the hypervisor's reason, not the host's paths.
        log.warning("%s port %s on %s: %s", verb, vif.port_id, request.instance_uuid, exc)
        return InterfaceResult(
            instance_uuid=request.instance_uuid,
            port_id=vif.port_id,
            done=False,
            message=f"the host could not {verb} the interface",
        )
    log.info(
        "port %s %sed %s %s (%s)",
        vif.port_id,
        verb,
        "to" if attach else "from",
        request.instance_uuid,
        "live and persistent" if live else "persistent definition",
    )
    return InterfaceResult(
        instance_uuid=request.instance_uuid, port_id=vif.port_id, done=True, live=live
    )


def attach_interface(manager: ComputeManager, request: InterfaceRequest) -> InterfaceResult:
    return _change(manager, request, attach=True)


def detach_interface(manager: ComputeManager, request: InterfaceRequest) -> InterfaceResult:
    return _change(manager, request, attach=False)
