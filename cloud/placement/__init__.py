"""Placement: resource providers, their inventories, traits and aggregates, consumers'
allocations claimed atomically, usages, and the /placement API."""
