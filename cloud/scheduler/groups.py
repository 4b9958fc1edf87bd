"""Server group writes: groups (os-server-groups) and their members.

An instance joins its group when the API writes it, in the same transaction
and within the server_group_members quota, with no host yet; the scheduler
sets the member's host when it claims (cloud.scheduler.services), a reverted
resize sets it back, and the membership goes when the instance is deleted.
"""

from django.db import transaction

from cloud.api.errors import BadRequest
from cloud.identity import quotas
from cloud.identity.context import RequestContext
from cloud.scheduler.models import ServerGroup, ServerGroupMember, ServerGroupPolicy

MAX_PER_HOST = "max_server_per_host"


@transaction.atomic
def server_group_create(
    *, context: RequestContext, name: str, policy: str, rules: dict[str, int]
) -> ServerGroup:
    """Create a group for the caller's project, within its server_groups quota."""
    if rules and policy != ServerGroupPolicy.ANTI_AFFINITY:
        raise BadRequest("Only anti-affinity policy supports rules.")
    try:
        quotas.quota_enforce(
            project_id=context.project_id, user_id=context.user_id, deltas={"server_groups": 1}
        )
    except quotas.QuotaExceeded:
        raise quotas.QuotaExceeded("Quota exceeded, too many server groups.") from None
    return ServerGroup.objects.create(
        name=name,
        project_id=context.project_id,
        user_id=context.user_id,
        policy=policy,
        rules=rules,
    )


def server_group_delete(*, group: ServerGroup) -> None:
    """Delete a group; its members stay as servers, outside any group (as in Nova)."""
    ServerGroup.objects.filter(pk=group.pk).delete()


def server_group_lock(*, group: ServerGroup) -> ServerGroup:
    """The group's row, locked for the caller's transaction (the scheduler's claims take
    this lock too); BadRequest when the group was deleted meanwhile."""
    locked = ServerGroup.objects.select_for_update().filter(pk=group.pk).first()
    if locked is None:
        raise BadRequest(f"Instance group {group.uuid} could not be found.")
    return locked


def group_members_add(
    *, context: RequestContext, group: ServerGroup, instance_uuids: list[str], used: int
) -> None:
    """Join instances being created to a group locked by `server_group_lock`, in the
    caller's transaction, within Nova's server_group_members quota: members per group
    counted for the creating user, who has `used` of them already (their instances
    are the instances app's to count)."""
    limit = quotas.limits(project_id=context.project_id)["server_group_members"]
    if 0 <= limit < used + len(instance_uuids):
        raise quotas.QuotaExceeded("Quota exceeded, too many servers in group")
    ServerGroupMember.objects.bulk_create(
        ServerGroupMember(group=group, instance_uuid=uuid) for uuid in instance_uuids
    )


def group_member_remove(*, instance_uuid: str) -> None:
    """The instance leaves its group (it was deleted)."""
    ServerGroupMember.objects.filter(instance_uuid=instance_uuid).delete()


def group_member_moved(*, instance_uuid: str, host: str) -> None:
    """The instance is back on `host` without a claim there (a reverted resize)."""
    ServerGroupMember.objects.filter(instance_uuid=instance_uuid).update(host=host)
