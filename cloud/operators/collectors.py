"""Gauges read at scrape time from the other apps' selectors: instances by state,
hosts up/disabled, each host's capacity (allocation ratio applied) and usage per
resource class, and queue depths on the broker."""

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from cloud.hosts.selectors import host_is_up, nodes_list
from cloud.instances.selectors import instance_counts_by_state
from cloud.operators.queues import queue_depths
from cloud.placement.selectors import inventories_all


def _families() -> dict[str, GaugeMetricFamily]:
    return {
        "instances": GaugeMetricFamily(
            "stratus_instances", "Live instances by vm_state", labels=["vm_state"]
        ),
        "up": GaugeMetricFamily(
            "stratus_host_up", "1 when the host's heartbeat is fresh", labels=["host"]
        ),
        "disabled": GaugeMetricFamily(
            "stratus_host_disabled", "1 when the host is disabled for scheduling", labels=["host"]
        ),
        "capacity": GaugeMetricFamily(
            "stratus_host_capacity",
            "Schedulable amount per resource class: (total - reserved) * allocation_ratio",
            labels=["host", "resource_class"],
        ),
        "used": GaugeMetricFamily(
            "stratus_host_used",
            "Allocated amount per resource class",
            labels=["host", "resource_class"],
        ),
        "queue": GaugeMetricFamily(
            "stratus_queue_depth", "Messages waiting on the broker per queue", labels=["queue"]
        ),
    }


class CloudCollector(Collector):
    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from _families().values()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = _families()
        for vm_state, count in sorted(instance_counts_by_state().items()):
            families["instances"].add_metric([vm_state], count)
        nodes = list(nodes_list())
        for node in nodes:
            families["up"].add_metric([node.host], 1 if host_is_up(node) else 0)
            families["disabled"].add_metric([node.host], 1 if node.disabled else 0)
        for host, classes in sorted(inventories_all().items()):
            for rc, inventory in sorted(classes.items()):
                families["capacity"].add_metric([host, rc], inventory["capacity"])
                families["used"].add_metric([host, rc], inventory["used"])
        for queue, depth in queue_depths(hosts=[n.host for n in nodes]).items():
            families["queue"].add_metric([queue], depth)
        yield from families.values()
