"""Placement and scheduling: providers, inventories, allocations, the scheduler task."""
