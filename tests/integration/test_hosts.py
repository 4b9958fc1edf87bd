"""Host registration and liveness from heartbeats (as the conductor records them)."""

from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from cloud.hosts.models import ComputeNode
from cloud.hosts.selectors import host_names_schedulable
from cloud.hosts.services import compute_node_report
from cloud.payloads import HostReport


def _report(sent_at: str = "") -> HostReport:
    return HostReport(
        host="h1",
        hypervisor_type="TEST",
        hypervisor_version=2,
        hypervisor_hostname="h1",
        libvirt_uri="test:///default",
        vcpus=16,
        memory_mb=3072,
        local_gb=100,
        sent_at=sent_at,
    )


def _record(report: HostReport) -> None:
    compute_node_report(report=report)


def test_liveness_is_the_send_time_and_never_moves_back(db):
    sent = timezone.now() - timedelta(seconds=20)
    _record(_report(sent.isoformat()))
    node = ComputeNode.objects.get(host="h1")
    assert node.last_seen_at == sent
    assert (node.vcpus, node.memory_mb, node.local_gb) == (16, 3072, 100)

    _record(_report((sent - timedelta(seconds=30)).isoformat()))  # a late, older report
    assert ComputeNode.objects.get(host="h1").last_seen_at == sent


def test_report_from_the_future_or_without_time_counts_as_now(db):
    before = timezone.now()
    _record(_report((before + timedelta(hours=1)).isoformat()))
    seen = ComputeNode.objects.get(host="h1").last_seen_at
    assert before <= seen <= timezone.now()
    _record(_report(""))  # a 1.0 compute sends no sent_at
    assert ComputeNode.objects.get(host="h1").last_seen_at >= seen


def test_stale_heartbeat_means_down(db, settings):
    settings.SERVICE_DOWN_TIME = 60
    _record(_report((timezone.now() - timedelta(seconds=61)).isoformat()))
    assert not host_names_schedulable().exists()
    _record(_report(timezone.now().isoformat()))
    assert list(host_names_schedulable().values_list("host", flat=True)) == ["h1"]


def test_a_repeated_heartbeat_is_two_queries_and_a_change_syncs_placement(
    db, django_assert_num_queries
):
    from cloud.conductor.services import compute_heartbeat
    from cloud.placement.models import Inventory, ResourceProvider

    compute_heartbeat(report=_report())  # the first: the node, its provider, inventories
    generation = ResourceProvider.objects.get(name="h1").generation
    with django_assert_num_queries(2):  # the inventories' SELECT, the node's UPDATE
        compute_heartbeat(report=_report())
    assert ResourceProvider.objects.get(name="h1").generation == generation

    grown = replace(_report(), vcpus=32)
    compute_heartbeat(report=grown)
    assert Inventory.objects.get(provider__name="h1", resource_class="VCPU").total == 32
    assert ResourceProvider.objects.get(name="h1").generation == generation + 1
    # An inventory taken away behind the host's back (the placement API) comes back.
    Inventory.objects.filter(provider__name="h1", resource_class="DISK_GB").delete()
    compute_heartbeat(report=grown)
    assert Inventory.objects.get(provider__name="h1", resource_class="DISK_GB").total == 100


def test_a_host_is_up_only_once_its_inventory_is_written(db, monkeypatch):
    """The first heartbeat writes the provider before the node: a scheduler never sees
    the host up with no inventory (it would find no room there, and fail the build)."""
    from cloud.conductor import services
    from cloud.placement.models import Inventory

    def failing_sync(**kwargs):
        assert not host_names_schedulable().exists()
        raise RuntimeError("placement is unreachable")

    monkeypatch.setattr(services, "provider_sync", failing_sync)
    with pytest.raises(RuntimeError):
        services.compute_heartbeat(report=_report())
    assert not ComputeNode.objects.filter(host="h1").exists()
    monkeypatch.undo()
    services.compute_heartbeat(report=_report())
    assert list(host_names_schedulable().values_list("host", flat=True)) == ["h1"]
    assert Inventory.objects.filter(provider__name="h1").count() == 3
