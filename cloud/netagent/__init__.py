"""The per-host network agent (queue `network.<host>`), database-free like computes.

It configures the host it runs on, as Neutron's Open vSwitch agent does: the
integration bridge `br-int` (Open vSwitch, userspace datapath) where each port is an
access port tagged with its network's VLAN, a trunk to the other hosts, a DHCP server
per network (dnsmasq in its own namespace), security groups as nftables rules per port,
and NAT for floating IPs in a router namespace. What it needs arrives in its messages;
what it did goes back to the `network` queue. It imports no Django (import-linter).
"""
