"""Server metadata writes on behalf of API users (Nova's server-metadata API): merge
new items into a server's metadata, replace it whole, delete one key.

A change is refused (409) on a locked server (unless by an admin) and unless the server
is idle in a state the state machine allows ("update_metadata"); the metadata the
server would have is held to the project's metadata_items limit (403). The row is
locked for the read-modify-write, so concurrent changes do not lose each other's keys.
The metadata is the instance's own column; no host is told (guests read it from the
metadata service).
"""

from django.db import transaction

from cloud.api.errors import Conflict, NotFound
from cloud.identity import quotas
from cloud.identity.context import RequestContext
from cloud.instances import states
from cloud.instances.models import Instance
from cloud.instances.services import instance_update

METADATA_ACTION = "update_metadata"


def _locked(instance: Instance) -> Instance:
    locked = Instance.objects.select_for_update().filter(pk=instance.pk, deleted=False).first()
    if locked is None:
        raise NotFound(f"Instance {instance.uuid} could not be found.")
    return locked


def _changeable(*, context: RequestContext, locked: Instance, method: str) -> None:
    """409 unless the server may have its metadata changed now (Nova's words)."""
    if locked.locked and not context.is_admin:
        raise Conflict(f"Instance {locked.uuid} is locked")
    if not states.allowed(METADATA_ACTION, locked.vm_state, locked.task_state):
        raise Conflict(
            states.refusal(
                METADATA_ACTION, method, str(locked.uuid), locked.vm_state, locked.task_state
            )
        )


@transaction.atomic
def server_metadata_update(
    *, context: RequestContext, instance: Instance, metadata: dict[str, str], replace: bool
) -> dict[str, str]:
    """Merge `metadata` into the server's (or, with `replace`, make it the whole of it);
    the server's metadata afterwards."""
    locked = _locked(instance)
    _changeable(context=context, locked=locked, method="update metadata")
    wanted = dict(metadata) if replace else {**locked.metadata, **metadata}
    if wanted:
        quotas.metadata_check(project_id=locked.project_id, items=len(wanted))
    instance_update(instance=locked, metadata=wanted)
    return wanted


@transaction.atomic
def server_metadata_delete(*, context: RequestContext, instance: Instance, key: str) -> None:
    """Delete one key of the server's metadata; Nova's 404 when it has no such key."""
    locked = _locked(instance)
    if key not in locked.metadata:
        raise NotFound("Metadata item was not found")
    _changeable(context=context, locked=locked, method="delete metadata")
    remaining = {k: v for k, v in locked.metadata.items() if k != key}
    instance_update(instance=locked, metadata=remaining)
