"""A real QEMU guest through the API: the stack with one `qemu:///system` host
(`deploy/stack.py --hypervisor qemu`), the tiny guest of deploy/guest_image.py
(direct kernel boot), driven by the unmodified `openstack` CLI.

The guest's init prints `stratus-guest: <hostname> booted (boot <id>)` on its
serial console; the kernel's random boot id tells each boot from the last, so
a reboot is proven by a new id in `openstack console log show`. libvirt itself
is asked whether the domain and its files exist.
"""

import json
import re
import time

import libvirt
import pytest

from tests.e2e.conftest import RunningStack, until

pytestmark = pytest.mark.e2e

URI = "qemu:///system"
BOOT_LINE = re.compile(r"stratus-guest: (\S+) booted \(boot ([0-9a-f-]+)\)")

# A lookup of the deleted domain is expected to fail; libvirt would print it to stderr.
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def _show(stack: RunningStack, name: str) -> dict:
    return json.loads(stack.openstack("server", "show", name, "-f", "json"))


def _settled(stack: RunningStack, name: str, status: str, timeout: float = 120) -> dict:
    """The server in `status` with no task running."""
    return stack.server_settled(name, status, timeout=timeout)


def _boots(stack: RunningStack, name: str) -> list[tuple[str, str]]:
    """(hostname, boot id) of every boot line in the console log, oldest first."""
    return BOOT_LINE.findall(stack.console_log(name))


def _new_boot(stack: RunningStack, name: str, seen: set[str], timeout: float = 90) -> str:
    """Wait for a boot line whose boot id is not in `seen`; return that id."""
    fresh = until(
        f"new boot line from {name}",
        lambda: [boot for _host, boot in _boots(stack, name) if boot not in seen],
        timeout,
        lambda: f"console log:\n{stack.console_log(name)}",
    )
    seen.add(fresh[-1])
    return fresh[-1]


def _domain_state(uuid: str) -> int | None:
    conn = libvirt.open(URI)
    try:
        return conn.lookupByUUIDString(uuid).state()[0]
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise
    finally:
        conn.close()


def test_a_real_guest_boots_reboots_stops_pauses_and_goes(qemu_stack: RunningStack):
    stack = qemu_stack
    name = "qemu-guest"
    started = time.monotonic()
    stack.openstack("server", "create", "--image", "guest", "--flavor", "m1.tiny", "--wait", name)
    server = _show(stack, name)
    uuid = server["id"]
    instance_dir = stack.var / "instances" / "qemu-1" / uuid
    try:
        assert server["OS-EXT-SRV-ATTR:host"] == "qemu-1"
        seen: set[str] = set()
        _new_boot(stack, name, seen)
        print(f"create to boot line: {time.monotonic() - started:.1f}s")
        assert _boots(stack, name)[-1][0] == name  # the hostname came through
        assert _domain_state(uuid) == libvirt.VIR_DOMAIN_RUNNING
        assert (instance_dir / "disk").is_file() and (instance_dir / "console.log").is_file()
        # `length` is the last N lines
        assert (
            len(stack.openstack("console", "log", "show", "--lines", "2", name).splitlines()) <= 2
        )

        # soft: ACPI power button, the guest's acpid powers off, libvirt restarts it
        stack.openstack("server", "reboot", "--soft", "--wait", name)
        _settled(stack, name, "ACTIVE")
        _new_boot(stack, name, seen)

        stack.openstack("server", "reboot", "--hard", "--wait", name)
        _settled(stack, name, "ACTIVE")
        _new_boot(stack, name, seen)

        stack.openstack("server", "stop", name)
        _settled(stack, name, "SHUTOFF")
        assert _domain_state(uuid) == libvirt.VIR_DOMAIN_SHUTOFF
        stack.openstack("server", "start", name)
        _settled(stack, name, "ACTIVE")
        _new_boot(stack, name, seen)

        stack.openstack("server", "pause", name)
        _settled(stack, name, "PAUSED")
        assert _domain_state(uuid) == libvirt.VIR_DOMAIN_PAUSED
        stack.openstack("server", "unpause", name)
        _settled(stack, name, "ACTIVE")
        assert _domain_state(uuid) == libvirt.VIR_DOMAIN_RUNNING
    finally:
        stack.openstack("server", "delete", "--wait", name)

    assert _domain_state(uuid) is None
    assert not instance_dir.exists()
