"""Periodic work on PostgreSQL: the power-state sync, task deadlines, and what a restarted
compute host is sent to reconcile. Messages they publish are captured, not sent."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cloud.conductor import services
from cloud.conductor.deadlines import deadlines_reap
from cloud.conductor.power_sync import SYNC_EVENT, power_states_sync
from cloud.conductor.reconcile import host_reconcile
from cloud.hosts.models import ComputeNode
from cloud.images.models import Image
from cloud.instances.models import Flavor, Instance, InstanceAction, InstanceFault
from cloud.instances.server_actions import server_action
from cloud.instances.services import ServerCreate, server_create, server_delete
from cloud.payloads import GuestStates, SpawnResult
from cloud.placement.models import Allocation
from tests.helpers import casts
from tests.integration.test_conductor import CONTEXT, _place

DEADLINES = {"rebooting": 600, "powering-off": 300}


@pytest.fixture
def building(seeded, django_capture_on_commit_callbacks):
    """A server the scheduler is about to place (as test_conductor's fixture of that name)."""
    with django_capture_on_commit_callbacks():
        [instance] = server_create(
            context=CONTEXT,
            request_id="req-1",
            spec=ServerCreate(
                name="vm", flavor=Flavor.objects.get(flavorid="1"), image=Image.objects.get()
            ),
        )
    with django_capture_on_commit_callbacks():
        services.instances_schedule(instance_uuids=[str(instance.uuid)], request_id="req-1")
    return instance


@pytest.fixture
def active(building, django_capture_on_commit_callbacks):
    _place(building, "h1", django_capture_on_commit_callbacks)
    services.instance_spawned(
        result=SpawnResult(
            instance_uuid=str(building.uuid), host="h1", request_id="req-1", power_state=1
        )
    )
    return Instance.objects.get(pk=building.pk)


def _report(instance, power_state: int | None, **extra: int) -> GuestStates:
    guests = {} if power_state is None else {str(instance.uuid): power_state}
    return GuestStates(host="h1", guests={**guests, **extra}, sampled_at=timezone.now().isoformat())


def _state(instance) -> tuple[str, str | None, int]:
    row = Instance.objects.get(pk=instance.pk)
    return row.vm_state, row.task_state, row.power_state


def _act(instance, action: str, request_id: str, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks() as sent:
        server_action(context=CONTEXT, request_id=request_id, instance=instance, action=action)
    assert len(casts(sent)) == 1


def _age(instance, seconds: int) -> None:
    Instance.objects.filter(pk=instance.pk).update(
        updated_at=timezone.now() - timedelta(seconds=seconds)
    )


# -- power-state sync ----------------------------------------------------------


def test_a_guest_that_stopped_by_itself_makes_the_server_shutoff(active):
    assert power_states_sync(states=_report(active, 4)) == 1
    assert _state(active) == ("stopped", None, 4)
    stop = InstanceAction.objects.get(instance_uuid=active.uuid, action="stop")
    [event] = stop.events.all()
    assert (event.event, event.result, event.host) == (SYNC_EVENT, "Success", "h1")
    assert "stopped by itself" in event.details and "shut off" in event.details
    assert stop.finish_time is not None

    assert power_states_sync(states=_report(active, 4)) == 0  # the same report again
    assert InstanceAction.objects.filter(instance_uuid=active.uuid, action="stop").count() == 1


@pytest.mark.parametrize(
    ("vm_state", "was", "found", "expected"),
    [
        ("active", 1, 6, ("stopped", None, 6)),  # crashed
        ("active", 1, 7, ("stopped", None, 7)),  # suspended behind our back
        ("active", 4, 4, ("stopped", None, 4)),  # a failed action had seen it off
        ("paused", 3, 4, ("stopped", None, 4)),
        ("active", 1, 3, ("active", None, 3)),  # paused unexpectedly: Nova ignores it
        ("active", 1, 0, ("active", None, 0)),  # not found on the host: only shown
        ("stopped", 4, 1, ("stopped", None, 1)),
    ],
)
def test_power_states_follow_the_hypervisor_as_nova_does(active, vm_state, was, found, expected):
    Instance.objects.filter(pk=active.pk).update(vm_state=vm_state, power_state=was)
    assert power_states_sync(states=_report(active, None if found == 0 else found)) == 1
    assert _state(active) == expected


def test_an_action_under_way_is_never_fought(active, django_capture_on_commit_callbacks):
    _act(active, "stop", "req-stop", django_capture_on_commit_callbacks)
    assert power_states_sync(states=_report(active, 4)) == 0
    assert _state(active) == ("active", "powering-off", 1)
    assert InstanceAction.objects.filter(instance_uuid=active.uuid, action="stop").count() == 1


def test_a_report_older_than_the_last_change_is_not_judged(active):
    stale = GuestStates(
        host="h1",
        guests={str(active.uuid): 4},
        sampled_at=(timezone.now() - timedelta(seconds=5)).isoformat(),
    )
    assert power_states_sync(states=stale) == 0
    assert _state(active) == ("active", None, 1)


def test_unknown_guests_are_recorded_for_admins(active, admin_api):
    stray = "5b0f5a8e-9d7e-4f55-8c55-6d2b1d0b8b11"
    power_states_sync(states=_report(active, 1, **{stray: 4}))
    assert ComputeNode.objects.get(host="h1").unknown_domains == [stray]
    listed = admin_api.get("/compute/v2.1/os-hypervisors/detail").json()["hypervisors"]
    assert [h["unknown_domains"] for h in listed] == [[stray]]

    power_states_sync(states=_report(active, 1))  # the operator removed it
    assert ComputeNode.objects.get(host="h1").unknown_domains == []


# -- deadlines -----------------------------------------------------------------


def test_a_reboot_past_its_deadline_goes_to_error_naming_the_step(
    active, django_capture_on_commit_callbacks
):
    _act(active, "reboot", "req-reboot", django_capture_on_commit_callbacks)
    _age(active, 599)
    assert deadlines_reap(build_timeout=600, deadlines=DEADLINES, default=3600) == 0
    _age(active, 601)
    assert deadlines_reap(build_timeout=600, deadlines=DEADLINES, default=3600) == 1

    assert _state(active) == ("error", None, 1)
    fault = InstanceFault.objects.get(instance_uuid=active.uuid)
    assert fault.message == "Task 'rebooting' timed out after 600s on h1; the server is in ERROR."
    reboot = InstanceAction.objects.get(request_id="req-reboot")
    assert (reboot.message, reboot.finish_time is not None) == ("Error", True)
    assert [(e.event, e.result) for e in reboot.events.all()] == [
        ("compute_reboot_instance", "Error")
    ]
    # The server still runs on its host: its claim stays.
    assert Allocation.objects.filter(consumer_id=str(active.uuid)).exists()
    assert deadlines_reap(build_timeout=600, deadlines=DEADLINES, default=3600) == 0


def test_a_stop_past_its_deadline_keeps_the_vm_state(active, django_capture_on_commit_callbacks):
    _act(active, "stop", "req-stop", django_capture_on_commit_callbacks)
    _age(active, 301)
    assert deadlines_reap(build_timeout=600, deadlines=DEADLINES, default=3600) == 1
    assert _state(active) == ("active", None, 1)
    fault = InstanceFault.objects.get(instance_uuid=active.uuid)
    assert (
        fault.message
        == "Task 'powering-off' timed out after 300s on h1; the server was left active."
    )


def test_a_step_without_its_own_deadline_gets_the_default(active):
    Instance.objects.filter(pk=active.pk).update(task_state="resize_migrating")
    _age(active, 1000)
    assert deadlines_reap(build_timeout=600, deadlines=DEADLINES, default=1200) == 0
    _age(active, 1201)
    assert deadlines_reap(build_timeout=600, deadlines=DEADLINES, default=1200) == 1
    assert _state(active)[:2] == ("error", None)


def test_a_stuck_build_is_still_reaped_and_its_claim_freed(
    building,
    django_capture_on_commit_callbacks,
):
    _place(building, "h1", django_capture_on_commit_callbacks)
    _age(building, 601)
    assert deadlines_reap(build_timeout=600, deadlines=DEADLINES, default=3600) == 1
    assert _state(building)[:2] == ("error", None)
    fault = InstanceFault.objects.get(instance_uuid=building.uuid)
    assert fault.message == "Build timed out after 600s in step 'spawning' on h1."
    assert not Allocation.objects.filter(consumer_id=str(building.uuid)).exists()


# -- reconcile -----------------------------------------------------------------


def test_a_restarted_host_is_sent_what_it_had_in_hand(active, django_capture_on_commit_callbacks):
    before = timezone.now()
    _act(active, "reboot_hard", "req-hard", django_capture_on_commit_callbacks)
    # Given to the host after its worker started: on its way as usual, not reconciled.
    assert host_reconcile(host="h1", started_at=before) is None
    with django_capture_on_commit_callbacks() as sent:
        request = host_reconcile(host="h1", started_at=timezone.now())
    assert len(casts(sent)) == 1
    [action] = request.action_requests
    assert (action.instance_uuid, action.action, action.task_state, action.hard) == (
        str(active.uuid),
        "reboot_hard",
        "rebooting_hard",
        True,
    )
    assert action.request_id == "req-hard"
    assert (request.builds, request.terminations) == ([], [])


def test_builds_deletes_and_unknown_steps_on_restart(
    building,
    django_capture_on_commit_callbacks,
):
    _place(building, "h1", django_capture_on_commit_callbacks)
    request = host_reconcile(host="h1", started_at=timezone.now())
    [build] = request.build_requests
    assert (build.instance_spec.uuid, build.request_id, build.attempt) == (
        str(building.uuid),
        "req-1",
        1,
    )

    with django_capture_on_commit_callbacks():
        server_delete(context=CONTEXT, request_id="req-del", instance=building)
    [termination] = host_reconcile(host="h1", started_at=timezone.now()).terminate_requests
    assert (termination.instance_uuid, termination.request_id) == (str(building.uuid), "req-del")

    Instance.objects.filter(pk=building.pk).update(vm_state="active", task_state="image_uploading")
    assert host_reconcile(host="h1", started_at=timezone.now()) is None  # left to its deadline
    assert host_reconcile(host="h2", started_at=timezone.now()) is None
