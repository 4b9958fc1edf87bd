"""The volume worker: one per storage backend, queue `volume.<backend>`, no database.

It owns the backend's data (volumes, snapshots, NBD exports) and reports what it did
to the conductor. Nothing in this package may import Django or another app (an
import-linter contract in pyproject.toml holds it); the image fetch is the compute
worker's own (cloud.workers.virt.imagecache), which is Django-free too.
"""
