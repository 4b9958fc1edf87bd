"""cloud.instances.lifecycle on PostgreSQL: the one conditional update that writes an
instance's states, as the table in cloud.instances.states says."""

import pytest

from cloud.images.models import Image
from cloud.instances.lifecycle import instance_transition
from cloud.instances.models import Flavor, Instance
from cloud.instances.services import ServerCreate, server_create
from cloud.instances.states import KEEP, STEPS, TRANSITIONS
from tests.integration.test_conductor import CONTEXT


@pytest.fixture
def instance(seeded, django_capture_on_commit_callbacks) -> Instance:
    with django_capture_on_commit_callbacks():
        [created] = server_create(
            context=CONTEXT,
            request_id="req-1",
            spec=ServerCreate(
                name="vm", flavor=Flavor.objects.get(flavorid="1"), image=Image.objects.get()
            ),
        )
    return created


def _states(instance: Instance) -> tuple:
    row = Instance.objects.get(pk=instance.pk)
    return row.vm_state, row.task_state, row.power_state


def test_a_new_server_is_written_as_the_table_creates_it(instance):
    create = STEPS["create"]
    assert _states(instance) == (create.vm_state, create.task_state, 0)
    assert _states(instance) == ("building", "scheduling", 0)


def test_a_step_writes_its_states_and_the_values_with_them(instance):
    assert instance_transition(instance=instance, step="spawn", values={"host": "h1"})
    assert instance_transition(
        uuid=str(instance.uuid), step="spawned", expected={"host": "h1"}, power_state=1
    )
    row = Instance.objects.get(pk=instance.pk)
    assert (row.vm_state, row.task_state, row.power_state, row.host) == ("active", None, 1, "h1")


def test_a_step_from_a_state_it_may_not_start_from_changes_nothing(instance):
    assert not instance_transition(instance=instance, step="spawned", power_state=1)
    assert not instance_transition(instance=instance, step="reboot:done")
    assert _states(instance) == ("building", "scheduling", 0)


def test_an_outcome_from_another_host_changes_nothing(instance):
    instance_transition(instance=instance, step="spawn", values={"host": "h1"})
    assert not instance_transition(instance=instance, step="spawned", expected={"host": "h2"})
    assert _states(instance) == ("building", "spawning", 0)


def test_a_step_that_keeps_the_task_leaves_it(instance):
    instance_transition(instance=instance, step="spawn", values={"host": "h1"})
    instance_transition(instance=instance, step="delete")
    assert STEPS["spawned_while_deleting"].task_state is KEEP
    assert instance_transition(instance=instance, step="spawned_while_deleting", power_state=1)
    assert _states(instance) == ("active", "deleting", 1)


def test_a_deleted_instance_never_changes_again(instance):
    assert instance_transition(instance=instance, step="mark_deleted", values={"deleted": True})
    assert _states(instance) == ("deleted", None, 0)
    assert not instance_transition(instance=instance, step="mark_deleted")
    assert not instance_transition(instance=instance, step="reset_state", vm_state="error")


def test_a_choice_of_vm_state_is_one_the_table_offers(instance):
    assert TRANSITIONS["reset_state"].vm_state == {"active", "error"}
    with pytest.raises(ValueError):
        instance_transition(instance=instance, step="reset_state")
    with pytest.raises(ValueError):
        instance_transition(instance=instance, step="reset_state", vm_state="stopped")
    with pytest.raises(ValueError):
        instance_transition(instance=instance, step="build_failed", vm_state="active")
    assert _states(instance) == ("building", "scheduling", 0)
    assert instance_transition(instance=instance, step="reset_state", vm_state="error")
    assert _states(instance) == ("error", None, 0)


def test_states_are_never_written_as_plain_values(instance):
    with pytest.raises(ValueError):
        instance_transition(instance=instance, step="spawn", values={"task_state": None})
    with pytest.raises(ValueError):
        instance_transition(instance=instance, step="get_console_output")
    with pytest.raises(KeyError):
        instance_transition(instance=instance, step="teleport")
    assert _states(instance) == ("building", "scheduling", 0)
