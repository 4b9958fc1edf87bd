"""Free-resource weighers: more free RAM / VCPU / disk weighs more (spread); a negative
multiplier packs instead."""

from cloud.scheduler.request import HostState, Scheduling
from cloud.scheduler.weighers import HostWeigher


class _FreeWeigher(HostWeigher):
    resource_class = ""

    def weigh(self, host: HostState, ctx: Scheduling) -> float:
        return float(host.free.get(self.resource_class, 0))

    def weigh_all(self, hosts: list[HostState], ctx: Scheduling) -> list[float]:
        rc = self.resource_class
        return [float(host.free.get(rc, 0)) for host in hosts]


class RAMWeigher(_FreeWeigher):
    name = "RAMWeigher"
    multiplier_setting = "RAM_WEIGHT_MULTIPLIER"
    resource_class = "MEMORY_MB"


class CPUWeigher(_FreeWeigher):
    name = "CPUWeigher"
    multiplier_setting = "CPU_WEIGHT_MULTIPLIER"
    resource_class = "VCPU"


class DiskWeigher(_FreeWeigher):
    name = "DiskWeigher"
    multiplier_setting = "DISK_WEIGHT_MULTIPLIER"
    resource_class = "DISK_GB"
