"""Builders shared by the unit tests (no database, no broker)."""

import atexit
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import libvirt

from cloud.payloads import InstanceSpec

TEST_URI = "test:///default"
# The guests' files are real on the test hypervisor too: one scratch directory per run.
INSTANCES = Path(tempfile.mkdtemp(prefix="stratus-unit-instances-"))
atexit.register(shutil.rmtree, INSTANCES, ignore_errors=True)


def instance_spec(
    *,
    memory_mb: int = 512,
    vcpus: int = 2,
    display_name: str = "web-1",
    image_properties: dict[str, Any] | None = None,
) -> InstanceSpec:
    """A complete InstanceSpec, as the conductor would send it, with a fresh uuid."""
    instance_uuid = str(uuid.uuid4())
    return InstanceSpec(
        uuid=instance_uuid,
        name=f"instance-{instance_uuid[:8]}",
        display_name=display_name,
        hostname="web-1",
        project_id="project-a",
        user_id="user-a",
        flavor={
            "name": "m1.small",
            "memory_mb": memory_mb,
            "vcpus": vcpus,
            "root_gb": 1,
            "ephemeral_gb": 0,
            "swap": 0,
            "extra_specs": {},
        },
        image={
            "id": "0b6b4a53-5c0e-4c3c-9d83-3c2a8e0f7a11",
            "name": "cirros",
            "disk_format": "qcow2",
            "container_format": "bare",
            "size": 1024,
            "min_disk": 0,
            "properties": image_properties or {},
        },
        metadata={"role": "web"},
    )


def domain_uuids(conn: libvirt.virConnect) -> list[str]:
    """Uuids of every domain the test hypervisor holds, seen from `conn`."""
    return [d.UUIDString() for d in conn.listAllDomains()]
