"""Remote consoles of a server: a console token for its VNC, SPICE or serial console on
the host it runs on, as a URL of the console proxy (cloud.consoles), and the tokens'
revocation when the server is deleted or moves.

The console's address and port are the ones the host read back from libvirt and the
conductor kept (cloud.consoles.models.ConsoleEndpoint); a host that reports none (the
simulated hosts: libvirt's test hypervisor has no graphics) offers no remote console,
answered 400 as Nova answers a console type its hypervisor does not offer.
"""

from cloud.api.errors import BadRequest
from cloud.consoles.api.presenters import console_url
from cloud.consoles.choices import CONSOLE_TYPES, UNAVAILABLE_TYPES
from cloud.consoles.services import (
    ConsoleUnavailable,
    console_endpoints_forget,
    console_token_issue,
)
from cloud.identity.context import RequestContext
from cloud.instances import lifecycle
from cloud.instances.models import Instance


def server_remote_console(
    *, context: RequestContext, instance: Instance, console_type: str, method: str
) -> str:
    """A URL granting one connection to the server's `console_type` console (400 when the
    type is unknown or its host offers none, 409 when the server is in no state to be
    reached: building, going away or moving)."""
    if console_type not in CONSOLE_TYPES and console_type not in UNAVAILABLE_TYPES:
        raise BadRequest(f"Unavailable console type {console_type}.")
    lifecycle.instance_check(
        context=context, instance=instance, action="get_remote_console", method=method
    )
    try:
        token = console_token_issue(
            instance_uuid=str(instance.uuid),
            compute_host=instance.host,
            console_type=console_type,
        )
    except ConsoleUnavailable:
        raise BadRequest(f"Unavailable console type {console_type}.") from None
    return console_url(console_type=console_type, token=token)


def server_consoles_revoke(*, instance: Instance) -> None:
    """The server is deleted or leaves its host: no console token of it grants anything."""
    console_endpoints_forget(instance_uuid=str(instance.uuid))
