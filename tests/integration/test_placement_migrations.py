"""Placement's move out of the scheduler app keeps a database's rows: a database at the
last release's migrations (placement tables under the scheduler app) is migrated
forward, and every row is read back through placement's models."""

import uuid

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from cloud.placement.models import (
    Allocation,
    Consumer,
    CustomResourceClass,
    Inventory,
    ProviderAggregate,
    ResourceProvider,
    Trait,
)
from cloud.scheduler.models import ServerGroupMember

BEFORE = [("scheduler", "0003_claim_indexes"), ("placement", None)]


def _migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection)


def test_an_upgrade_keeps_every_placement_row(transactional_db):
    executor = _migrate(BEFORE)
    old = executor.loader.project_state(BEFORE[0]).apps
    provider_model = old.get_model("scheduler", "ResourceProvider")
    root = provider_model.objects.create(name="host-1")
    child = provider_model.objects.create(name="host-1-gpu", parent=root)
    fast = old.get_model("scheduler", "Trait").objects.create(name="CUSTOM_FAST")
    root.traits.add(fast)
    old.get_model("scheduler", "CustomResourceClass").objects.create(name="CUSTOM_GPU")
    aggregate = uuid.uuid4()
    old.get_model("scheduler", "ProviderAggregate").objects.create(
        provider=root, aggregate=aggregate
    )
    old.get_model("scheduler", "Inventory").objects.create(
        provider=root, resource_class="VCPU", total=8, max_unit=8, capacity=8, used=2
    )
    old.get_model("scheduler", "Consumer").objects.create(uuid="vm-1", project_id="p")
    old.get_model("scheduler", "Allocation").objects.create(
        provider=root, consumer_id="vm-1", project_id="p", resource_class="VCPU", used=2
    )
    group = old.get_model("scheduler", "ServerGroup").objects.create(
        name="g", project_id="p", user_id="u", policy="affinity"
    )
    member = uuid.uuid4()
    old.get_model("scheduler", "ServerGroupMember").objects.create(
        group=group, instance_uuid=member, host="host-1"
    )

    _migrate(executor.loader.graph.leaf_nodes())

    provider = ResourceProvider.objects.get(name="host-1")
    assert (provider.pk, provider.uuid) == (root.pk, root.uuid)
    assert ResourceProvider.objects.get(name="host-1-gpu").parent_id == root.pk
    assert list(provider.traits.values_list("name", flat=True)) == ["CUSTOM_FAST"]
    assert list(Trait.objects.get(pk=fast.pk).providers.all()) == [provider]
    assert list(CustomResourceClass.objects.values_list("name", flat=True)) == ["CUSTOM_GPU"]
    assert [a.aggregate for a in ProviderAggregate.objects.filter(provider=provider)] == [aggregate]
    inventory = Inventory.objects.get(provider=provider)
    assert (inventory.resource_class, inventory.capacity, inventory.used) == ("VCPU", 8, 2)
    assert Consumer.objects.get(uuid="vm-1").project_id == "p"
    assert list(Allocation.objects.values_list("provider_id", "consumer_id", "used")) == [
        (root.pk, "vm-1", 2)
    ]
    assert ServerGroupMember.objects.get(instance_uuid=member).host == "host-1"
    # New rows after the rename take ids past the old ones.
    assert ResourceProvider.objects.create(name="host-2").pk > child.pk
