"""Compute API: os-volume_attachments (`openstack server add volume`, `server remove
volume`, `server volume list`): a server's volumes as Nova shows them (2.89: the
attachment's id and `bdm_uuid`, no `id`), attached and detached through the conductor
(cloud.instances.volume_attach).

Nova answers an attach at once with the device the volume will take; the volume is
`attaching` until the host has connected it (`in-use`), and a detach is `detaching`
until the host let go of it. Swapping a volume for another (PUT with a new volumeId) is
not supported here: it answers 400; a PUT naming the same volume changes its
delete_on_termination (2.85), as Nova's does.
"""

from rest_framework import status
from rest_framework.response import Response

from cloud.api.errors import BadRequest
from cloud.api.parsing import InvalidValue, parse_uuid
from cloud.api.schema import body
from cloud.identity.views import ComputeView
from cloud.instances import selectors, volume_attach
from cloud.instances.api import body_schemas as schemas
from cloud.instances.api.presenters import volume_attachment_body, volume_attachment_created

RULE = "os_compute_api:os-volumes-attachments:%s"


def _target(instance) -> dict:
    return {"project_id": instance.project_id, "user_id": instance.user_id}


def _body(request, allowed: set[str]) -> dict:
    """The attachment object of a body the schema took, with none of the keys the
    requested microversion does not have (the schema is the newest one's)."""
    data = request.data["volumeAttachment"]
    unknown = set(data) - allowed
    if unknown:
        raise BadRequest(f"Additional properties are not allowed ({', '.join(sorted(unknown))})")
    return data


def _volume_id(value: str) -> str:
    """The dashed form of the volumeId (the schema's pattern lets a trailing newline
    through, which this refuses)."""
    try:
        return parse_uuid(value, name="volumeId")
    except InvalidValue as exc:
        raise BadRequest(str(exc)) from None


def _delete_on_termination(data: dict) -> bool:
    """delete_on_termination as the schema took it: a boolean or one of Nova's words."""
    value = data.get("delete_on_termination", False)
    return value if isinstance(value, bool) else value.lower() in ("true", "1", "on", "yes")


class VolumeAttachmentListView(ComputeView):
    """GET, POST /servers/{id}/os-volume_attachments"""

    def get(self, request, server_id: str):
        instance = selectors.instance_get(server_id=server_id, context=self.context)
        self.authorize(RULE % "index", _target(instance))
        attachments = volume_attach.server_volumes(instance_uuid=str(instance.uuid))
        return Response(
            {"volumeAttachments": [volume_attachment_body(a, self.version) for a in attachments]}
        )

    @body(schemas.VOLUME_ATTACH)
    def post(self, request, server_id: str):
        instance = selectors.instance_get(server_id=server_id, context=self.context)
        self.authorize(RULE % "create", _target(instance))
        allowed = {"volumeId", "device"}
        if self.version.at_least("2.49"):
            allowed.add("tag")
        if self.version.at_least("2.79"):
            allowed.add("delete_on_termination")
        data = _body(request, allowed)
        device = data.get("device")
        if data.get("tag") is not None:
            raise BadRequest("Device tags are not supported by the hypervisors of this cloud.")
        attachment = volume_attach.server_volume_attach(
            context=self.context,
            request_id=request.request_id,
            instance=instance,
            volume_id=_volume_id(data["volumeId"]),
            device=device or None,
            delete_on_termination=_delete_on_termination(data),
        )
        return Response({"volumeAttachment": volume_attachment_created(attachment, self.version)})


class VolumeAttachmentView(ComputeView):
    """GET, PUT, DELETE /servers/{id}/os-volume_attachments/{volume_id}"""

    def get(self, request, server_id: str, volume_id: str):
        instance = selectors.instance_get(server_id=server_id, context=self.context)
        self.authorize(RULE % "show", _target(instance))
        attachment = volume_attach.server_volume_get(
            instance_uuid=str(instance.uuid), volume_id=volume_id
        )
        return Response({"volumeAttachment": volume_attachment_body(attachment, self.version)})

    @body(schemas.VOLUME_ATTACHMENT_UPDATE)
    def put(self, request, server_id: str, volume_id: str):
        instance = selectors.instance_get(server_id=server_id, context=self.context)
        allowed = {"volumeId", "device", "serverId", "id", "tag"}
        if self.version.at_least("2.85"):
            allowed.add("delete_on_termination")
        data = _body(request, allowed)
        new_volume = _volume_id(data["volumeId"])
        if new_volume != volume_id:
            self.authorize(RULE % "swap", _target(instance))
            volume_attach.server_volume_get(instance_uuid=str(instance.uuid), volume_id=volume_id)
            raise BadRequest(
                "Swapping a server's volume for another is not supported by the hypervisors "
                "of this cloud."
            )
        self.authorize(RULE % "update", _target(instance))
        if "delete_on_termination" not in data:
            raise BadRequest(
                "The volumeId is the attached one: only delete_on_termination can change "
                "(microversion 2.85)."
            )
        volume_attach.server_volume_update(
            instance_uuid=str(instance.uuid),
            volume_id=volume_id,
            delete_on_termination=_delete_on_termination(data),
        )
        return Response(status=status.HTTP_202_ACCEPTED)

    def delete(self, request, server_id: str, volume_id: str):
        instance = selectors.instance_get(server_id=server_id, context=self.context)
        self.authorize(RULE % "delete", _target(instance))
        volume_attach.server_volume_detach(
            context=self.context,
            request_id=request.request_id,
            instance=instance,
            volume_id=volume_id,
        )
        return Response(status=status.HTTP_202_ACCEPTED)
