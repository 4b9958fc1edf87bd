"""What an API user reads from a server's host while waiting: its console output and its
diagnostics. The api asks the host with a timeout (504 when it does not answer) and
answers 409 when the server is in no state to be asked."""

from django.conf import settings

from cloud.api.errors import Conflict, GatewayTimeout, NotFound
from cloud.identity.context import RequestContext
from cloud.instances import lifecycle
from cloud.instances.models import Instance
from cloud.instances.states import VmState
from cloud.payloads import ConsoleOutput, ConsoleRequest
from cloud.rpc import HostUnreachable, call_compute


def server_console_output(
    *, context: RequestContext, instance: Instance, length: int | None
) -> str:
    """The guest's console log (its last `length` lines, or all of it)."""
    lifecycle.instance_check(
        context=context,
        instance=instance,
        action="get_console_output",
        method="get_console_output",
    )
    try:
        answer = call_compute(
            instance.host,
            "compute.get_console_output",
            ConsoleRequest(instance_uuid=str(instance.uuid), length=length),
            timeout=settings.SYNC_CALL_TIMEOUT,
        )
    except HostUnreachable as exc:
        raise GatewayTimeout(str(exc)) from exc
    console = ConsoleOutput.from_dict(answer)
    if not console.available:
        raise Conflict(f"Unable to get console output: {console.message}")
    return console.output


def server_diagnostics(*, instance: Instance) -> dict:
    """The hypervisor's own account of the guest (Nova's 2.48 diagnostics shape)."""
    if not instance.host or instance.vm_state == VmState.BUILDING:
        raise Conflict(
            f"Cannot 'get_diagnostics' instance {instance.uuid} while it is "
            f"in vm_state {instance.vm_state}"
        )
    try:
        diagnostics = call_compute(
            instance.host,
            "compute.get_diagnostics",
            str(instance.uuid),
            timeout=settings.SYNC_CALL_TIMEOUT,
        )
    except HostUnreachable as exc:
        raise GatewayTimeout(str(exc)) from exc
    if diagnostics is None:
        raise NotFound(f"Instance {instance.uuid} is not on host {instance.host}.")
    return diagnostics
