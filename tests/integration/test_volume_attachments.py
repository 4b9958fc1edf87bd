"""The attachment state machine (cloud.volumes.services) on PostgreSQL: each step's
statuses, multiattach, and two attaches of one volume racing (each its own connection
and transaction): exactly one wins, the other is a 409."""

import threading
import uuid

import pytest
from django.db import connection

from cloud.api.errors import Conflict, NotFound
from cloud.identity.context import RequestContext
from cloud.volumes import services
from cloud.volumes.models import Volume, VolumeAttachment
from cloud.volumes.types import volume_type_default


def _context(project_id: str, admin: bool = False) -> RequestContext:
    roles = ["admin", "member", "reader"] if admin else ["member", "reader"]
    return RequestContext(
        user_id="u-1", user_name="u", project_id=project_id, project_name="p", roles=roles
    )


def _volume(project_id: str, *, multiattach: bool = False, status: str = "available") -> Volume:
    kind = volume_type_default()
    return Volume.objects.create(
        project_id=project_id,
        user_id="u-1",
        size=1,
        status=status,
        volume_type=kind,
        multiattach=multiattach,
        backend="file",
        provider_location=f"/v/{uuid.uuid4()}",
    )


def _status(volume: Volume) -> str:
    return Volume.objects.get(pk=volume.pk).status


def test_attach_and_detach_walk_the_states(db):
    pid = "p-walk"
    ctx = _context(pid)
    volume = _volume(pid)
    instance = str(uuid.uuid4())
    attachment = services.reserve_attachment(ctx, str(volume.pk), instance, "cmp-1", True)
    assert (attachment.status, _status(volume)) == ("attaching", "attaching")
    assert attachment.delete_on_termination is True
    connected = services.attachment_connected(
        str(attachment.pk), "/dev/vdb", {"driver_volume_type": "file", "path": "/x"}
    )
    assert (connected.status, connected.device, _status(volume)) == (
        "attached",
        "/dev/vdb",
        "in-use",
    )
    assert [a.pk for a in services.volumes_of_instance(instance)] == [attachment.pk]
    with pytest.raises(Conflict):
        services.reserve_attachment(ctx, str(volume.pk), str(uuid.uuid4()), "cmp-2")
    detaching = services.begin_detach(ctx, str(attachment.pk))
    assert (detaching.status, _status(volume)) == ("detaching", "detaching")
    with pytest.raises(Conflict):
        services.begin_detach(ctx, str(attachment.pk))
    services.detach_failed(str(attachment.pk), "guest refused")
    assert _status(volume) == "in-use"
    assert Volume.objects.get(pk=volume.pk).fault == "guest refused"
    services.begin_detach(ctx, str(attachment.pk))
    gone = services.detach_finished(str(attachment.pk))
    assert gone.delete_on_termination and _status(volume) == "available"
    assert gone.pk == attachment.pk
    assert services.detach_finished(str(attachment.pk)) is None
    assert services.volumes_of_instance(instance) == []


def test_a_failed_attach_frees_the_volume_and_a_late_connect_is_refused(db):
    pid = "p-fail"
    volume = _volume(pid)
    attachment = services.reserve_attachment(_context(pid), str(volume.pk), str(uuid.uuid4()), "h")
    services.attachment_failed(str(attachment.pk), "host unreachable")
    assert _status(volume) == "available"
    assert Volume.objects.get(pk=volume.pk).fault == "host unreachable"
    assert services.attachment_connected(str(attachment.pk), "/dev/vdb", {}) is None
    services.attachment_failed(str(attachment.pk), "again")  # harmless


def test_another_projects_volume_and_attachment_are_not_found(db):
    volume = _volume("p-owner")
    attachment = services.reserve_attachment(
        _context("p-owner"), str(volume.pk), str(uuid.uuid4()), "h"
    )
    with pytest.raises(NotFound):
        services.reserve_attachment(_context("p-other"), str(volume.pk), str(uuid.uuid4()), "h")
    with pytest.raises(NotFound):
        services.begin_detach(_context("p-other"), str(attachment.pk))


def test_multiattach_volumes_take_several_instances_once_each(db):
    pid = "p-multi"
    ctx = _context(pid)
    volume = _volume(pid, multiattach=True)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    a = services.reserve_attachment(ctx, str(volume.pk), first, "h1")
    services.attachment_connected(str(a.pk), "/dev/vdb", {})
    b = services.reserve_attachment(ctx, str(volume.pk), second, "h2")
    assert _status(volume) == "in-use"
    with pytest.raises(Conflict):
        services.reserve_attachment(ctx, str(volume.pk), first, "h1")
    services.attachment_connected(str(b.pk), "/dev/vdc", {})
    services.begin_detach(ctx, str(a.pk))
    assert _status(volume) == "in-use"  # b stays attached
    services.detach_finished(str(a.pk))
    assert _status(volume) == "in-use"
    services.begin_detach(ctx, str(b.pk))
    services.detach_finished(str(b.pk))
    assert _status(volume) == "available"


@pytest.mark.parametrize("multiattach", [False, True])
def test_two_attaches_race_and_only_one_takes_a_single_attach_volume(transactional_db, multiattach):
    pid = "p-race"
    volume = _volume(pid, multiattach=multiattach)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def attach() -> None:
        barrier.wait()
        try:
            services.reserve_attachment(_context(pid), str(volume.pk), str(uuid.uuid4()), "h")
            outcomes.append("ok")
        except Conflict:
            outcomes.append("409")
        finally:
            connection.close()

    threads = [threading.Thread(target=attach) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = 8 if multiattach else 1
    assert sorted(outcomes) == sorted(["ok"] * expected + ["409"] * (8 - expected))
    assert VolumeAttachment.objects.filter(volume=volume).count() == expected
    assert _status(volume) == "attaching"
