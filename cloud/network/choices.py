"""The network app's status and kind values, as Neutron spells them."""

from django.db import models


class NetworkStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    DOWN = "DOWN"
    BUILD = "BUILD"
    ERROR = "ERROR"


class NetworkType(models.TextChoices):
    VLAN = "vlan"
    FLAT = "flat"


class PortStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    DOWN = "DOWN"
    BUILD = "BUILD"
    ERROR = "ERROR"


class Direction(models.TextChoices):
    INGRESS = "ingress"
    EGRESS = "egress"


class EtherType(models.TextChoices):
    IPV4 = "IPv4"
    IPV6 = "IPv6"


class FloatingIPStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    DOWN = "DOWN"
    ERROR = "ERROR"


# Neutron's device_owner values Stratus uses.
DEVICE_OWNER_COMPUTE = "compute:nova"
DEVICE_OWNER_DHCP = "network:dhcp"
DEVICE_OWNER_FLOATINGIP = "network:floatingip"
