"""Compute API: `POST /servers/{id}/action` (reboot, os-stop, os-start, pause, unpause,
suspend, resume, lock, unlock, os-resetState, os-getConsoleOutput; the remote
console actions os-getVNCConsole, os-getSPICEConsole and os-getSerialConsole from
cloud.instances.api.remote_consoles; resize,
confirmResize and revertResize from cloud.instances.api.resize_actions; rebuild,
createImage and evacuate from cloud.instances.api.image_actions).

Each action parses its body as Nova's schema does (400 otherwise), checks its
policy, and calls one service; host actions answer 202 with no body and run
on the host, console output asks the host synchronously.
"""

from rest_framework import status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response

from cloud.api.errors import BadRequest
from cloud.api.parsing import InvalidValue, parse_int
from cloud.api.schema import body
from cloud.identity.views import ComputeView
from cloud.instances import host_reads, selectors, server_actions
from cloud.instances.api import body_schemas as schemas
from cloud.instances.api.image_actions import IMAGE_ACTIONS, ImageActions
from cloud.instances.api.remote_consoles import LEGACY_ACTIONS, ConsoleActions
from cloud.instances.api.resize_actions import RESIZE_ACTIONS, ResizeActions
from cloud.instances.models import Instance
from cloud.instances.states import RESET_STATES

REBOOT_TYPES = {"SOFT": "reboot", "HARD": "reboot_hard"}

# Body-less host actions: request key -> (policy rule, state-machine action).
HOST_ACTIONS = {
    "os-stop": ("os_compute_api:servers:stop", "stop"),
    "os-start": ("os_compute_api:servers:start", "start"),
    "pause": ("os_compute_api:os-pause-server:pause", "pause"),
    "unpause": ("os_compute_api:os-pause-server:unpause", "unpause"),
    "suspend": ("os_compute_api:os-suspend-server:suspend", "suspend"),
    "resume": ("os_compute_api:os-suspend-server:resume", "resume"),
}


def _object(name: str, body, allowed: set[str]) -> dict:
    if not isinstance(body, dict):
        raise BadRequest(f"Invalid input for field/attribute {name}: must be an object.")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(
            f"Invalid input for field/attribute {name}: Additional properties are not "
            f"allowed ({', '.join(map(repr, unknown))} unexpected)"
        )
    return body


def _reboot_action(body) -> str:
    body = _object("reboot", body, {"type"})
    kind = body.get("type")
    if not isinstance(kind, str) or kind.upper() not in REBOOT_TYPES:
        raise BadRequest("Invalid input for field/attribute type: must be 'SOFT' or 'HARD'.")
    return REBOOT_TYPES[kind.upper()]


def _lock_reason(body) -> str | None:
    if body is None:
        return None
    reason = _object("lock", body, {"locked_reason"}).get("locked_reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 255):
        raise BadRequest(
            "Invalid input for field/attribute locked_reason: a string of 255 at most."
        )
    return reason


def _reset_state(body) -> str:
    state = _object("os-resetState", body, {"state"}).get("state")
    if not isinstance(state, str) or state not in RESET_STATES:
        raise BadRequest(
            "Invalid input for field/attribute state: must be one of "
            f"{', '.join(sorted(RESET_STATES))}."
        )
    return state


def _console_length(body) -> int | None:
    """Nova's `length`: an integer (or its string) from -1; -1 and null mean all."""
    length = _object("os-getConsoleOutput", body, {"length"}).get("length")
    if length is None:
        return None
    try:
        length = parse_int(length, name="length", minimum=-1)
    except InvalidValue:
        raise BadRequest(
            "Invalid input for field/attribute length: an integer of -1 or more."
        ) from None
    return None if length == -1 else length


def _target(instance: Instance) -> dict:
    return {"project_id": instance.project_id, "user_id": instance.user_id}


ACCEPTED = status.HTTP_202_ACCEPTED


class EmptyAcceptNegotiation(DefaultContentNegotiation):
    """openstacksdk posts server actions with an empty Accept header: take it as JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        if not request.META.get("HTTP_ACCEPT", "").strip():
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


class ServerActionView(ResizeActions, ImageActions, ConsoleActions, ComputeView):
    """POST /servers/{id}/action"""

    content_negotiation_class = EmptyAcceptNegotiation

    @body(schemas.SERVER_ACTION)
    def post(self, request, server_id: str):
        data = request.data
        if not isinstance(data, dict) or len(data) != 1:
            raise BadRequest("The request body must be a JSON object naming one action.")
        ((name, body),) = data.items()
        handlers = {
            "reboot": self.reboot,
            "lock": self.lock,
            "unlock": self.unlock,
            "os-resetState": self.reset_state,
            "os-getConsoleOutput": self.console_output,
            **{key: getattr(self, method) for key, method in RESIZE_ACTIONS.items()},
            **{key: getattr(self, method) for key, method in IMAGE_ACTIONS.items()},
            **{
                key: lambda instance, body, key=key: self.legacy_console(key, instance, body)
                for key in LEGACY_ACTIONS
            },
        }
        if name not in HOST_ACTIONS and name not in handlers:
            raise BadRequest(f"There is no such action: {name}")
        instance = selectors.instance_get(server_id=server_id, context=self.context)
        if name in HOST_ACTIONS:
            rule, action = HOST_ACTIONS[name]
            self.authorize(rule, _target(instance))
            return self._host_action(instance, action)
        return handlers[name](instance, body)

    def _host_action(self, instance: Instance, action: str) -> Response:
        server_actions.server_action(
            context=self.context,
            request_id=self.request.request_id,
            instance=instance,
            action=action,
        )
        return Response(status=ACCEPTED)

    def reboot(self, instance: Instance, body) -> Response:
        action = _reboot_action(body)
        self.authorize("os_compute_api:servers:reboot", _target(instance))
        return self._host_action(instance, action)

    def lock(self, instance: Instance, body) -> Response:
        reason = _lock_reason(body) if self.version.at_least("2.73") else None
        self.authorize("os_compute_api:os-lock-server:lock", _target(instance))
        server_actions.server_lock(
            context=self.context,
            request_id=self.request.request_id,
            instance=instance,
            reason=reason,
        )
        return Response(status=ACCEPTED)

    def unlock(self, instance: Instance, body) -> Response:
        self.authorize("os_compute_api:os-lock-server:unlock", _target(instance))
        if server_actions.unlock_needs_override(context=self.context, instance=instance):
            self.authorize(
                "os_compute_api:os-lock-server:unlock:unlock_override", _target(instance)
            )
        server_actions.server_unlock(
            context=self.context, request_id=self.request.request_id, instance=instance
        )
        return Response(status=ACCEPTED)

    def reset_state(self, instance: Instance, body) -> Response:
        vm_state = _reset_state(body)
        self.authorize("os_compute_api:os-admin-actions:reset_state", _target(instance))
        server_actions.server_reset_state(
            context=self.context,
            request_id=self.request.request_id,
            instance=instance,
            vm_state=vm_state,
        )
        return Response(status=ACCEPTED)

    def console_output(self, instance: Instance, body) -> Response:
        length = _console_length(body)
        self.authorize("os_compute_api:os-console-output", _target(instance))
        output = host_reads.server_console_output(
            context=self.context, instance=instance, length=length
        )
        return Response({"output": output})
