"""Fixtures for the unit tests around libvirt's in-process test driver.

Every connection to `test:///default` in one process sees the same
hypervisor state (its stock domain "test" included), so tests give each
guest a fresh uuid and name and remove whatever they defined.
"""

from collections.abc import Callable, Iterator
from typing import Any

import libvirt
import pytest

from cloud.payloads import InstanceSpec
from tests.unit.helpers import TEST_URI, instance_spec


@pytest.fixture
def libvirt_conn() -> Iterator[libvirt.virConnect]:
    """An independent connection to the test hypervisor, to check what the code did."""
    conn = libvirt.open(TEST_URI)
    yield conn
    conn.close()


@pytest.fixture
def make_instance(libvirt_conn: libvirt.virConnect) -> Iterator[Callable[..., InstanceSpec]]:
    """Build instance specs; guests left defined under their uuids are removed afterwards."""
    made: list[InstanceSpec] = []

    def make(**kwargs: Any) -> InstanceSpec:
        spec = instance_spec(**kwargs)
        made.append(spec)
        return spec

    yield make
    for spec in made:
        try:
            domain = libvirt_conn.lookupByUUIDString(spec.uuid)
        except libvirt.libvirtError:
            continue
        if domain.isActive():
            domain.destroy()
        domain.undefine()
