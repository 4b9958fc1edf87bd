"""Conductor services on PostgreSQL: build outcomes, reschedules, races with delete,
and the stuck-build reaper. Messages they publish are captured, not sent."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cloud.conductor import services
from cloud.identity.context import RequestContext
from cloud.images.models import Image
from cloud.instances.models import Flavor, Instance, InstanceFault, RequestSpec
from cloud.instances.services import ServerCreate, server_create, server_delete
from cloud.payloads import BuildFailure, SchedulerAnswer, SpawnResult
from cloud.placement.claims import allocations_claim_new_many
from cloud.placement.models import Allocation, ResourceProvider
from tests.helpers import casts
from tests.integration.test_placement import TINY, _host

CONTEXT = RequestContext(
    user_id="u1", user_name="u", project_id="p1", project_name="p", roles=["member", "reader"]
)


@pytest.fixture
def building(seeded, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        [instance] = server_create(
            context=CONTEXT,
            request_id="req-1",
            spec=ServerCreate(
                name="vm", flavor=Flavor.objects.get(flavorid="1"), image=Image.objects.get()
            ),
        )
    with django_capture_on_commit_callbacks() as sent:
        services.instances_schedule(instance_uuids=[str(instance.uuid)], request_id="req-1")
    assert len(casts(sent)) == 1  # the select_destinations -> schedule_done chain
    return instance


def _place(instance, host: str, django_capture_on_commit_callbacks) -> None:
    provider = _host(host, memory_mb=4096)
    allocations_claim_new_many([(str(instance.uuid), "p1", provider.pk, TINY)])
    with django_capture_on_commit_callbacks() as sent:
        services.schedule_done(
            selection=SchedulerAnswer(
                instance_uuid=str(instance.uuid), request_id="req-1", host=host
            )
        )
    assert len(casts(sent)) == 1  # the build request cast to compute.<host>


def test_spawned_makes_active_once(building, django_capture_on_commit_callbacks):
    result = SpawnResult(
        instance_uuid=str(building.uuid), host="h1", request_id="req-1", power_state=1
    )
    assert Instance.objects.get(pk=building.pk).progress == 0
    _place(building, "h1", django_capture_on_commit_callbacks)
    spawning = Instance.objects.get(pk=building.pk)
    assert (spawning.task_state, spawning.progress) == ("spawning", 0)
    services.instance_spawned(result=result)
    services.instance_spawned(result=result)  # redelivered: harmless
    instance = Instance.objects.get(pk=building.pk)
    assert (instance.vm_state, instance.task_state, instance.power_state) == ("active", None, 1)
    assert instance.progress == 100


def test_build_failure_reschedules_then_gives_up(
    building, django_capture_on_commit_callbacks, settings
):
    settings.SCHEDULER_MAX_ATTEMPTS = 2
    _place(building, "h1", django_capture_on_commit_callbacks)
    failure = BuildFailure(
        instance_uuid=str(building.uuid),
        host="h1",
        request_id="req-1",
        attempt=1,
        message="libvirt said no",
        details="Traceback ...",
    )
    with django_capture_on_commit_callbacks() as sent:
        services.build_failed(failure=failure)
    assert len(casts(sent)) == 1  # a new scheduling request
    spec = RequestSpec.objects.get(instance_uuid=building.uuid)
    assert (spec.ignore_hosts, spec.num_attempts) == (["h1"], 2)
    assert not Allocation.objects.filter(consumer_id=str(building.uuid)).exists()
    assert Instance.objects.get(pk=building.pk).task_state == "scheduling"

    _place(building, "h2", django_capture_on_commit_callbacks)
    services.build_failed(
        failure=BuildFailure(
            instance_uuid=str(building.uuid),
            host="h2",
            request_id="req-1",
            attempt=2,
            message="libvirt said no again",
        )
    )
    instance = Instance.objects.get(pk=building.pk)
    assert instance.vm_state == "error"
    fault = InstanceFault.objects.get(instance_uuid=building.uuid)
    assert "failed on 2 host(s)" in fault.message and "h2" in fault.message
    assert not Allocation.objects.filter(consumer_id=str(building.uuid)).exists()


def test_claim_made_after_a_delete_is_given_back(building, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        server_delete(context=CONTEXT, request_id="req-2", instance=building)
    assert Instance.objects.get(pk=building.pk).deleted
    provider = _host("h1")
    allocations_claim_new_many([(str(building.uuid), "p1", provider.pk, TINY)])
    services.schedule_done(
        selection=SchedulerAnswer(instance_uuid=str(building.uuid), request_id="req-1", host="h1")
    )
    assert not Allocation.objects.filter(consumer_id=str(building.uuid)).exists()


def test_claim_made_after_the_build_ended_is_given_back(
    building, django_capture_on_commit_callbacks
):
    """The build was reaped at its deadline (its claim freed) while a redelivered
    scheduling request was still on its way: that request claims again, and its answer
    gives the claim back instead of leaving it held by a server in ERROR."""
    _place(building, "h1", django_capture_on_commit_callbacks)
    Instance.objects.filter(pk=building.pk).update(
        updated_at=timezone.now() - timedelta(seconds=700)
    )
    assert services.builds_reap_stuck(timeout_seconds=600) == 1
    assert not Allocation.objects.filter(consumer_id=str(building.uuid)).exists()
    provider = ResourceProvider.objects.get(name="h1")
    allocations_claim_new_many([(str(building.uuid), "p1", provider.pk, TINY)])
    with django_capture_on_commit_callbacks() as sent:
        services.schedule_done(
            selection=SchedulerAnswer(
                instance_uuid=str(building.uuid), request_id="req-1", host="h1"
            )
        )
    assert casts(sent) == []
    assert Instance.objects.get(pk=building.pk).vm_state == "error"
    assert not Allocation.objects.filter(consumer_id=str(building.uuid)).exists()


def test_answer_for_a_running_server_keeps_its_claim(building, django_capture_on_commit_callbacks):
    """A redelivered answer for a server that went on to run names the claim it holds."""
    _place(building, "h1", django_capture_on_commit_callbacks)
    services.instance_spawned(
        result=SpawnResult(
            instance_uuid=str(building.uuid), host="h1", request_id="req-1", power_state=1
        )
    )
    services.schedule_done(
        selection=SchedulerAnswer(instance_uuid=str(building.uuid), request_id="req-1", host="h1")
    )
    assert Allocation.objects.filter(consumer_id=str(building.uuid)).exists()


def test_reaper_fails_stuck_builds_naming_the_step(building, django_capture_on_commit_callbacks):
    _place(building, "h1", django_capture_on_commit_callbacks)
    Instance.objects.filter(pk=building.pk).update(
        updated_at=timezone.now() - timedelta(seconds=700)
    )
    assert services.builds_reap_stuck(timeout_seconds=600) == 1
    instance = Instance.objects.get(pk=building.pk)
    assert instance.vm_state == "error"
    fault = InstanceFault.objects.get(instance_uuid=building.uuid)
    assert fault.message == "Build timed out after 600s in step 'spawning' on h1."
    assert not Allocation.objects.filter(consumer_id=str(building.uuid)).exists()
    assert services.builds_reap_stuck(timeout_seconds=600) == 0


def test_orphan_claims_are_swept(building, django_capture_on_commit_callbacks):
    _place(building, "h1", django_capture_on_commit_callbacks)
    provider = _host("h2")
    allocations_claim_new_many([("never-written", "p1", provider.pk, TINY)])
    Allocation.objects.update(created_at=timezone.now() - timedelta(seconds=700))
    assert services.allocations_reap_orphans(older_than_seconds=600) == 1
    assert not Allocation.objects.filter(consumer_id="never-written").exists()
    assert Allocation.objects.filter(consumer_id=str(building.uuid)).count() == 3

    Instance.objects.filter(pk=building.pk).update(deleted=True)
    assert services.allocations_reap_orphans(older_than_seconds=600) == 1
    assert not Allocation.objects.exists()


def test_a_boots_outcomes_are_pinned_in_queries(
    building, django_capture_on_commit_callbacks, django_assert_num_queries
):
    """The conductor's share of a boot and a delete: each query is a round trip a boot
    storm pays (bench/boot_storm.py); a change here is a change of that figure. The test's
    own transaction adds a SAVEPOINT and its RELEASE to each."""
    from cloud.payloads import Terminated

    _place(building, "h1", django_capture_on_commit_callbacks)
    uuid = str(building.uuid)
    with django_assert_num_queries(7):  # the lock, the states, the host's count, event, action
        services.instance_spawned(
            result=SpawnResult(instance_uuid=uuid, host="h1", request_id="req-1", power_state=1)
        )
    # The lock, the states, the claim's release (one statement on PostgreSQL; its reads
    # and writes one by one on SQLite), the group membership, migrations, consoles (2),
    # ports, volume attachments, event, action.
    with django_assert_num_queries(14 if connection.vendor == "postgresql" else 18):
        services.instance_terminated(
            terminated=Terminated(instance_uuid=uuid, host="h1", request_id="req-2")
        )
    assert Instance.objects.get(pk=building.pk).deleted
    assert not Allocation.objects.filter(consumer_id=uuid).exists()
