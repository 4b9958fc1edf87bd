"""Networks, subnets, ports and their fixed IPs, VLAN allocations, security groups and
floating IPs, shaped like Neutron's tables.

The database holds the invariants: a VLAN id is held by at most one live network
(a unique constraint on the network's segment, and the allocation table's row for
the id points at its holder), and an address is given to at most one port on a
subnet (a unique constraint on (subnet, ip_address)).
"""

import uuid

from django.db import models
from django.db.models import Q

from cloud.jsonfields import ShapedJSONField
from cloud.network.choices import (
    Direction,
    EtherType,
    FloatingIPStatus,
    NetworkStatus,
    NetworkType,
    PortStatus,
)


class StandardAttributes(models.Model):
    """What every Neutron resource has (its standard attributes): an id, an owner, a
    description, a revision number and timestamps; listed oldest first."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project_id = models.CharField(max_length=64, db_index=True)
    description = models.CharField(max_length=255, blank=True, default="")
    revision_number = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]


class Network(StandardAttributes):
    name = models.CharField(max_length=255, blank=True, default="", db_index=True)
    admin_state_up = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=NetworkStatus, default=NetworkStatus.ACTIVE)
    shared = models.BooleanField(default=False)
    external = models.BooleanField(default=False)
    network_type = models.CharField(max_length=16, choices=NetworkType, default=NetworkType.VLAN)
    physical_network = models.CharField(max_length=64, null=True, blank=True)
    segmentation_id = models.PositiveIntegerField(null=True, blank=True)
    mtu = models.PositiveIntegerField(default=1500)
    port_security_enabled = models.BooleanField(default=True)

    class Meta(StandardAttributes.Meta):
        constraints = [
            # One live network per VLAN of a physical network, whoever chose it.
            models.UniqueConstraint(
                fields=["physical_network", "segmentation_id"],
                condition=Q(network_type="vlan"),
                name="network_unique_vlan_segment",
            ),
            models.UniqueConstraint(
                fields=["physical_network"],
                condition=Q(network_type="flat"),
                name="network_unique_flat_physnet",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.id} ({self.network_type} {self.segmentation_id})"


class VlanAllocation(models.Model):
    """One row per VLAN id of the configured ranges (Neutron's ml2_vlan_allocations):
    the network holding it, or none. Project networks take a free row under a row lock
    (SKIP LOCKED, so concurrent creates take different ids)."""

    physical_network = models.CharField(max_length=64)
    vlan_id = models.PositiveIntegerField()
    network = models.OneToOneField(
        Network, null=True, blank=True, on_delete=models.SET_NULL, related_name="vlan"
    )

    class Meta:
        ordering = ["physical_network", "vlan_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["physical_network", "vlan_id"], name="vlan_allocation_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.physical_network}:{self.vlan_id}"


class Subnet(StandardAttributes):
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="subnets")
    name = models.CharField(max_length=255, blank=True, default="", db_index=True)
    ip_version = models.PositiveSmallIntegerField(default=4)
    cidr = models.CharField(max_length=64)
    gateway_ip = models.GenericIPAddressField(null=True, blank=True)
    enable_dhcp = models.BooleanField(default=True)
    # [{"start": ..., "end": ...}], inside the cidr, never the gateway.
    allocation_pools = ShapedJSONField(default=list, items=dict)
    dns_nameservers = ShapedJSONField(default=list, items=str)
    host_routes = ShapedJSONField(default=list, items=dict)

    def __str__(self) -> str:
        return f"{self.name or self.id} ({self.cidr})"


class SecurityGroup(StandardAttributes):
    name = models.CharField(max_length=255, db_index=True)
    stateful = models.BooleanField(default=True)
    # The project's `default` group, made on first use (one per project).
    is_default = models.BooleanField(default=False)

    class Meta(StandardAttributes.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["project_id"],
                condition=Q(is_default=True),
                name="security_group_one_default",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.project_id})"


class SecurityGroupRule(StandardAttributes):
    security_group = models.ForeignKey(
        SecurityGroup, on_delete=models.CASCADE, related_name="rules"
    )
    direction = models.CharField(max_length=8, choices=Direction)
    ethertype = models.CharField(max_length=8, choices=EtherType, default=EtherType.IPV4)
    protocol = models.CharField(max_length=16, null=True, blank=True)
    port_range_min = models.PositiveIntegerField(null=True, blank=True)
    port_range_max = models.PositiveIntegerField(null=True, blank=True)
    remote_ip_prefix = models.CharField(max_length=64, null=True, blank=True)
    remote_group = models.ForeignKey(
        SecurityGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.direction} {self.protocol or 'any'} {self.remote_ip_prefix or ''}"


class Port(StandardAttributes):
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="ports")
    name = models.CharField(max_length=255, blank=True, default="", db_index=True)
    mac_address = models.CharField(max_length=17)
    admin_state_up = models.BooleanField(default=True)
    status = models.CharField(max_length=16, choices=PortStatus, default=PortStatus.DOWN)
    device_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    device_owner = models.CharField(max_length=255, blank=True, default="")
    # Neutron's binding:host_id: the host whose agent wires the port.
    binding_host = models.CharField(max_length=255, blank=True, default="")
    port_security_enabled = models.BooleanField(default=True)
    security_groups = models.ManyToManyField(SecurityGroup, blank=True, related_name="ports")
    allowed_address_pairs = ShapedJSONField(default=list, blank=True, items=dict)
    # The guest's hostname (Neutron's dns_name, set by the compute API): what DHCP names it.
    dns_name = models.CharField(max_length=255, blank=True, default="")
    # Made by the compute API for a server (`--network`), so deleted with it; a port
    # the user passed in (`--port`) is only unbound (Nova's preserve_on_delete).
    delete_with_device = models.BooleanField(default=False)

    class Meta(StandardAttributes.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["network", "mac_address"], name="port_unique_mac_per_network"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name or self.id} ({self.mac_address})"


class IPAllocation(models.Model):
    """A fixed IP of a port: one address of one subnet, never given twice."""

    port = models.ForeignKey(Port, on_delete=models.CASCADE, related_name="fixed_ips")
    subnet = models.ForeignKey(Subnet, on_delete=models.PROTECT, related_name="allocations")
    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="+")
    ip_address = models.GenericIPAddressField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["subnet", "ip_address"], name="ip_unique_per_subnet")
        ]

    def __str__(self) -> str:
        return self.ip_address


class FloatingIP(StandardAttributes):
    floating_network = models.ForeignKey(
        Network, on_delete=models.PROTECT, related_name="floating_ips"
    )
    # The port on the external network holding the address (device_owner
    # network:floatingip), so the external subnet's IPAM hands it out like any other.
    floating_port = models.OneToOneField(Port, on_delete=models.PROTECT, related_name="+")
    floating_ip_address = models.GenericIPAddressField()
    port = models.ForeignKey(
        Port, null=True, blank=True, on_delete=models.SET_NULL, related_name="floating_ips"
    )
    fixed_ip_address = models.GenericIPAddressField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=FloatingIPStatus, default=FloatingIPStatus.DOWN
    )

    def __str__(self) -> str:
        return f"{self.floating_ip_address} -> {self.fixed_ip_address or '-'}"


class NetworkAgent(models.Model):
    """A host's network agent as its heartbeats describe it."""

    host = models.CharField(max_length=255, unique=True)
    payload_version = models.CharField(max_length=16, blank=True, default="")
    bridge = models.CharField(max_length=64, blank=True, default="")
    capabilities = ShapedJSONField(default=dict, blank=True)
    started_at = models.CharField(max_length=64, blank=True, default="")
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["host"]

    def __str__(self) -> str:
        return self.host
