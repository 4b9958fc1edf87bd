"""The compute worker: one per hypervisor host, no database, talks to libvirt.

Nothing in this package may import Django or another app's models (an
import-linter contract in pyproject.toml holds it).
"""
