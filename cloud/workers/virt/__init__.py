"""Hypervisor drivers: the abstract interface and the libvirt driver."""
