"""createImage (a snapshot of a server) on behalf of API users: the api's half.

The image is written `queued` in the image API at once (the server's project
owns it; its properties name the server), the instance moves to
`image_snapshot`, and `compute.snapshot_instance` goes to its host, which
uploads a copy of the root disk to the image API with an upload transfer token
for that image (cloud.images.boot); the conductor writes the outcome
(cloud.conductor.snapshot). A host that cannot (one whose hypervisor reports no
`supports_snapshot`, or one speaking a payload version before 1.7, which wrote
snapshots to a shared path instead) is refused with 409 before anything is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from cloud.api.errors import Conflict
from cloud.hosts.selectors import host_capabilities, host_up
from cloud.identity import quotas
from cloud.identity.context import RequestContext
from cloud.images.boot import image_upload_fields
from cloud.images.snapshot import image_snapshot_create
from cloud.instances import actions
from cloud.instances.lifecycle import instance_transition_start
from cloud.instances.models import Instance
from cloud.instances.states import TaskState
from cloud.payloads import SnapshotRequest
from cloud.rpc import cast_compute, host_too_old

if TYPE_CHECKING:
    from cloud.images.models import Image

SNAPSHOT_EVENT = "compute_snapshot_instance"
# The payload version whose hosts upload snapshots to the image API.
UPLOADS_SINCE = "1.7"


def _check_host(instance: Instance) -> None:
    if not instance.host:
        raise Conflict(f"Instance {instance.uuid} is not ready")
    if not host_up(host=instance.host):
        raise Conflict(
            f"Cannot 'createImage' instance {instance.uuid}: "
            f"its compute host {instance.host} is down"
        )
    too_old = host_too_old(instance.host, SnapshotRequest, needs=UPLOADS_SINCE)
    if too_old:  # such a host reports no capabilities at all: say what is in the way
        raise Conflict(too_old)
    if not host_capabilities(host=instance.host).get("supports_snapshot"):
        raise Conflict(
            f"Cannot 'createImage' instance {instance.uuid}: the hypervisor of its host "
            f"{instance.host} keeps no guest disks to snapshot (no snapshot support)."
        )


@transaction.atomic
def server_create_image(
    *,
    context: RequestContext,
    request_id: str,
    instance: Instance,
    name: str,
    metadata: dict[str, str],
) -> Image:
    """Start a snapshot of the server; the new (queued) image."""
    _check_host(instance)
    quotas.metadata_check(project_id=instance.project_id, items=len(metadata))
    instance_transition_start(
        context=context,
        instance=instance,
        action="create_image",
        method="createImage",
        values={"progress": 0},
    )
    uuid = str(instance.uuid)
    image = image_snapshot_create(
        name=name,
        metadata=metadata,
        instance_uuid=uuid,
        project_id=instance.project_id,
        user_id=context.user_id,
        base_image=instance.image_meta,
    )
    actions.action_start(
        instance_uuid=uuid,
        action="createImage",
        request_id=request_id,
        user_id=context.user_id,
        project_id=context.project_id,
    )
    actions.event_start(
        instance_uuid=uuid, request_id=request_id, event=SNAPSHOT_EVENT, host=instance.host
    )
    upload = image_upload_fields(image_id=str(image.id))
    cast_compute(
        instance.host,
        "compute.snapshot_instance",
        SnapshotRequest(
            instance_uuid=uuid,
            name=instance.domain_name,
            request_id=request_id,
            image_id=str(image.id),
            task_state=TaskState.IMAGE_SNAPSHOT,
            upload_url=upload["url"],
            upload_token=upload["token"],
        ),
    )
    return image
