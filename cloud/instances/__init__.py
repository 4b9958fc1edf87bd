"""Instances: flavors, servers, their actions, events and faults, and the state machine."""
