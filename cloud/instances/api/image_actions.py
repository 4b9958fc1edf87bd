"""Compute API: rebuild, createImage and evacuate of `POST /servers/{id}/action`.

`rebuild` answers 202 with the server (its new image, name and metadata already
shown, status REBUILD); `createImage` answers 202 with the new image's id in a
`Location` header before 2.45 and as `{"image_id": ...}` from it; `evacuate`
(admin) answers 200, with no body from 2.14. cloud.instances.rebuild and
cloud.instances.snapshot do the work.
"""

from rest_framework import status
from rest_framework.response import Response

from cloud.api.errors import BadRequest, flatten_detail
from cloud.api.views import base_url
from cloud.instances import rebuild, snapshot
from cloud.instances.api.presenters import server_detail
from cloud.instances.api.serializers import ServerCreateImageSerializer, ServerRebuildSerializer
from cloud.instances.models import Instance
from cloud.instances.volume_attach import servers_volumes
from cloud.network.selectors import instance_ports
from cloud.scheduler.selectors import server_groups_of

# request key -> the view's method
IMAGE_ACTIONS = {
    "rebuild": "rebuild",
    "createImage": "create_image",
    "evacuate": "evacuate",
}


def _target(instance: Instance) -> dict:
    return {"project_id": instance.project_id, "user_id": instance.user_id}


def _image_ref(ref: str) -> str:
    """Nova accepts an image's link as well as its id: the id is the last segment."""
    return ref.rstrip("/").rsplit("/", 1)[-1]


def _evacuate_host(body, version) -> str | None:
    """The evacuation's target host (2.29+; the scheduler still checks it), or None for
    the scheduler's choice."""
    if not isinstance(body, dict):
        raise BadRequest("Invalid input for field/attribute evacuate: must be an object.")
    allowed = {"host"} if version.at_least("2.29") else {"onSharedStorage"}
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(
            "Invalid input for field/attribute evacuate: Additional properties are not "
            f"allowed ({', '.join(map(repr, unknown))} unexpected): the scheduler checks "
            "the host, and no admin password can be set"
        )
    if body.get("onSharedStorage"):
        raise BadRequest("Instances on shared storage cannot be evacuated: there is none.")
    host = body.get("host")
    if host is not None and (not isinstance(host, str) or not 1 <= len(host) <= 255):
        raise BadRequest("Invalid input for field/attribute host: a host name is required.")
    return host


class ImageActions:
    """Mixed into the server action view (which provides context, authorize, request)."""

    def rebuild(self, instance: Instance, body) -> Response:
        self.authorize("os_compute_api:servers:rebuild", _target(instance))
        serializer = ServerRebuildSerializer(data=body, version=self.version)
        if not serializer.is_valid():
            raise BadRequest(f"Invalid input for rebuild: {flatten_detail(serializer.errors)}")
        attrs = serializer.validated_data
        rebuilt = rebuild.server_rebuild(
            context=self.context,
            request_id=self.request.request_id,
            instance=instance,
            rebuild=rebuild.Rebuild(
                image_ref=_image_ref(attrs["imageRef"]),
                name=attrs.get("name"),
                metadata=attrs.get("metadata"),
                description=attrs.get("description"),
                set_description="description" in attrs,
                access_ip_v4=attrs.get("accessIPv4"),
                access_ip_v6=attrs.get("accessIPv6"),
            ),
        )
        body = server_detail(
            rebuilt,
            base_url(self.request),
            self.version,
            self.context,
            server_groups=server_groups_of(instance_uuid=str(rebuilt.uuid)),
            ports=instance_ports(instance_uuids=[str(rebuilt.uuid)])[str(rebuilt.uuid)],
            volumes=servers_volumes(instance_uuids=[str(rebuilt.uuid)])[str(rebuilt.uuid)],
        )
        return Response({"server": body}, status=status.HTTP_202_ACCEPTED)

    def create_image(self, instance: Instance, body) -> Response:
        self.authorize("os_compute_api:servers:create_image", _target(instance))
        serializer = ServerCreateImageSerializer(data=body)
        if not serializer.is_valid():
            raise BadRequest(f"Invalid input for createImage: {flatten_detail(serializer.errors)}")
        image = snapshot.server_create_image(
            context=self.context,
            request_id=self.request.request_id,
            instance=instance,
            name=serializer.validated_data["name"],
            metadata=serializer.validated_data["metadata"],
        )
        if self.version.at_least("2.45"):
            return Response({"image_id": str(image.id)}, status=status.HTTP_202_ACCEPTED)
        response = Response(status=status.HTTP_202_ACCEPTED)
        response["Location"] = f"{base_url(self.request)}/image/v2/images/{image.id}"
        return response

    def evacuate(self, instance: Instance, body) -> Response:
        host = _evacuate_host(body, self.version)
        self.authorize("os_compute_api:os-evacuate", _target(instance))
        rebuild.server_evacuate(
            context=self.context, request_id=self.request.request_id, instance=instance, host=host
        )
        return Response(status=status.HTTP_200_OK)
