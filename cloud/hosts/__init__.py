"""Compute hosts: registration, capacity as reported, heartbeats, enablement."""
