"""Compute API: the resize actions of `POST /servers/{id}/action`.

`resize` (202) takes `{"flavorRef": id or link}` as Nova's schema does (400 for
an unknown flavor), `confirmResize` answers 204 and `revertResize` 202, all with
no body; cloud.instances.resize does the work.
"""

from rest_framework import status
from rest_framework.response import Response

from cloud.api.errors import BadRequest
from cloud.instances import resize
from cloud.instances.models import Instance

# request key -> the view's method
RESIZE_ACTIONS = {
    "resize": "resize",
    "confirmResize": "confirm_resize",
    "revertResize": "revert_resize",
}


def _flavor_ref(body) -> str:
    if not isinstance(body, dict):
        raise BadRequest("Invalid input for field/attribute resize: must be an object.")
    unknown = sorted(set(body) - {"flavorRef", "OS-DCF:diskConfig"})
    if unknown:
        raise BadRequest(
            "Invalid input for field/attribute resize: Additional properties are not "
            f"allowed ({', '.join(map(repr, unknown))} unexpected)"
        )
    ref = body.get("flavorRef")
    if isinstance(ref, int) and not isinstance(ref, bool):
        ref = str(ref)
    if not isinstance(ref, str) or not ref.strip():
        raise BadRequest("Invalid input for field/attribute flavorRef: a flavor id is required.")
    # Nova accepts a flavor's link as well as its id: the id is the last segment.
    return ref.rstrip("/").rsplit("/", 1)[-1]


def _target(instance: Instance) -> dict:
    return {"project_id": instance.project_id, "user_id": instance.user_id}


class ResizeActions:
    """Mixed into the server action view (which provides context, authorize, request)."""

    def resize(self, instance: Instance, body) -> Response:
        ref = _flavor_ref(body)
        self.authorize("os_compute_api:servers:resize", _target(instance))
        resize.server_resize(
            context=self.context,
            request_id=self.request.request_id,
            instance=instance,
            flavor_ref=ref,
        )
        return Response(status=status.HTTP_202_ACCEPTED)

    def confirm_resize(self, instance: Instance, body) -> Response:
        self.authorize("os_compute_api:servers:confirm_resize", _target(instance))
        resize.server_confirm_resize(
            context=self.context, request_id=self.request.request_id, instance=instance
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    def revert_resize(self, instance: Instance, body) -> Response:
        self.authorize("os_compute_api:servers:revert_resize", _target(instance))
        resize.server_revert_resize(
            context=self.context, request_id=self.request.request_id, instance=instance
        )
        return Response(status=status.HTTP_202_ACCEPTED)
