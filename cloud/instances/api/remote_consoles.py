"""Compute API: remote consoles. `POST /servers/{id}/remote-consoles` (2.6+) and the
actions it replaced, `os-getVNCConsole`, `os-getSPICEConsole` and `os-getSerialConsole`
of `POST /servers/{id}/action` (2.1 to 2.5; 404 after, as Nova's removed actions).
Bodies are checked as Nova's schemas check them (400 otherwise); the URL comes from
cloud.instances.remote_consoles."""

from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound
from cloud.api.schema import body
from cloud.consoles.api import presenters
from cloud.consoles.choices import CONSOLE_TYPES
from cloud.identity.views import ComputeView
from cloud.instances import remote_consoles, selectors
from cloud.instances.api import body_schemas as schemas
from cloud.instances.models import Instance

RULE = "os_compute_api:os-remote-consoles"

# Nova's schemas: the protocols and types each microversion accepts.
PROTOCOLS = ["vnc", "spice", "rdp", "serial"]
TYPES = ["novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial"]
PROTOCOLS_28 = [*PROTOCOLS, "mks"]
TYPES_28 = [*TYPES, "webmks"]

# action -> (the types its schema accepts, Nova's method name for messages)
LEGACY_ACTIONS = {
    "os-getVNCConsole": (["novnc", "xvpvnc"], "get_vnc_console"),
    "os-getSPICEConsole": (["spice-html5"], "get_spice_console"),
    "os-getSerialConsole": (["serial"], "get_serial_console"),
}


def _target(instance: Instance) -> dict:
    return {"project_id": instance.project_id, "user_id": instance.user_id}


def _choice(name: str, value, choices: list[str]) -> str:
    if value not in choices:
        raise BadRequest(
            f"Invalid input for field/attribute {name}. Value: {value}. "
            f"{value!r} is not one of {choices!r}"
        )
    return value


def _object(name: str, body, allowed: set[str], required: list[str]) -> dict:
    if not isinstance(body, dict):
        raise BadRequest(f"Invalid input for field/attribute {name}: must be an object.")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(
            f"Invalid input for field/attribute {name}: Additional properties are not "
            f"allowed ({', '.join(map(repr, unknown))} unexpected)"
        )
    for key in required:
        if key not in body:
            raise BadRequest(f"Invalid input for field/attribute {name}: '{key}' is required")
    return body


class RemoteConsoleView(ComputeView):
    """POST /servers/{id}/remote-consoles"""

    @body(schemas.REMOTE_CONSOLE)
    def post(self, request, server_id: str):
        if not self.version.at_least("2.6"):
            raise NotFound("The resource could not be found.")
        data = request.data
        if not isinstance(data, dict) or set(data) != {"remote_console"}:
            raise BadRequest("Invalid input for field/attribute remote_console: it is required.")
        body = _object(
            "remote_console", data["remote_console"], {"protocol", "type"}, ["protocol", "type"]
        )
        newer = self.version.at_least("2.8")
        protocol = _choice("protocol", body["protocol"], PROTOCOLS_28 if newer else PROTOCOLS)
        console_type = _choice("type", body["type"], TYPES_28 if newer else TYPES)
        instance = selectors.instance_get(server_id=server_id, context=self.context)
        self.authorize(RULE, _target(instance))
        if CONSOLE_TYPES.get(console_type, protocol) != protocol:
            raise BadRequest(f"Unavailable console type {console_type}.")
        url = remote_consoles.server_remote_console(
            context=self.context,
            instance=instance,
            console_type=console_type,
            method=f"get_{protocol}_console",
        )
        return Response(
            presenters.remote_console(protocol=protocol, console_type=console_type, url=url)
        )


class ConsoleActions:
    """Mixed into the server action view (which provides context, version, authorize)."""

    def legacy_console(self, name: str, instance: Instance, body) -> Response:
        if self.version.at_least("2.6"):
            raise NotFound(f"There is no such action: {name} in microversion {self.version}")
        types, method = LEGACY_ACTIONS[name]
        console_type = _choice("type", _object(name, body, {"type"}, ["type"])["type"], types)
        self.authorize(RULE, _target(instance))
        url = remote_consoles.server_remote_console(
            context=self.context, instance=instance, console_type=console_type, method=method
        )
        return Response(presenters.legacy_console(console_type=console_type, url=url))
