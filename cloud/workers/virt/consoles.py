"""The libvirt driver's consoles: the simulated console log of the test hypervisor, the
remote-console endpoints read back from a live domain, and the serial console's port.

libvirt's test hypervisor runs no guest, so it has no serial line to log. As Nova's
fake driver does, the compute keeps a console log for each of its domains instead:
one line for every lifecycle event libvirt reports (defined, started, paused,
resumed, saved, stopped...), naming the guest and its uuid, in the same file a QEMU
guest's serial log is kept in (`<instances_path>/<uuid>/console.log`).

A QEMU guest's VNC and SPICE ports are chosen by libvirt when it starts (autoport);
they are only known from the live definition, which is where they are read. Its
serial console is a TCP server whose port libvirt cannot choose: the driver takes a
free one from a configured range, and keeps it in the guest's persistent definition.
"""

import logging
import os
import re
import socket
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import libvirt

log = logging.getLogger(__name__)

# libvirt's lifecycle events and their details, as words for the console log.
_EVENTS = {
    libvirt.VIR_DOMAIN_EVENT_DEFINED: (
        "defined",
        {
            libvirt.VIR_DOMAIN_EVENT_DEFINED_ADDED: "added",
            libvirt.VIR_DOMAIN_EVENT_DEFINED_UPDATED: "updated",
        },
    ),
    libvirt.VIR_DOMAIN_EVENT_UNDEFINED: ("undefined", {}),
    libvirt.VIR_DOMAIN_EVENT_STARTED: (
        "started",
        {
            libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED: "booted",
            libvirt.VIR_DOMAIN_EVENT_STARTED_MIGRATED: "migrated",
            libvirt.VIR_DOMAIN_EVENT_STARTED_RESTORED: "restored",
            libvirt.VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT: "from snapshot",
            libvirt.VIR_DOMAIN_EVENT_STARTED_WAKEUP: "woken up",
        },
    ),
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: (
        "paused",
        {
            libvirt.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED: "by request",
            libvirt.VIR_DOMAIN_EVENT_SUSPENDED_IOERROR: "I/O error",
        },
    ),
    libvirt.VIR_DOMAIN_EVENT_RESUMED: ("resumed", {}),
    libvirt.VIR_DOMAIN_EVENT_STOPPED: (
        "stopped",
        {
            libvirt.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN: "shut down",
            libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED: "powered off",
            libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED: "crashed",
            libvirt.VIR_DOMAIN_EVENT_STOPPED_MIGRATED: "migrated",
            libvirt.VIR_DOMAIN_EVENT_STOPPED_SAVED: "saved",
            libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED: "failed",
        },
    ),
    libvirt.VIR_DOMAIN_EVENT_SHUTDOWN: ("shutting down", {}),
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: ("suspended to memory", {}),
    libvirt.VIR_DOMAIN_EVENT_CRASHED: ("crashed", {}),
}

_loop_started = False
_loop_lock = threading.Lock()


def start_event_loop() -> None:
    """libvirt's default event loop, run by one daemon thread of this process; it must
    be registered before the connection whose events it delivers is opened."""
    global _loop_started
    with _loop_lock:
        if _loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                libvirt.virEventRunDefaultImpl()

        threading.Thread(target=run, name="libvirt-events", daemon=True).start()
        _loop_started = True


def event_words(event: int, detail: int) -> str:
    """`started (booted)`: what a lifecycle event says, for people."""
    what, details = _EVENTS.get(event, (f"event {event}", {}))
    how = details.get(detail)
    return f"{what} ({how})" if how else what


class SimulatedConsole:
    """The console logs of a test hypervisor's guests: a line per lifecycle event."""

    def __init__(self, log_path_of: Any) -> None:
        # instance uuid -> Path of its console log
        self._log_path_of = log_path_of
        self._lock = threading.Lock()

    def register(self, conn: libvirt.virConnect) -> None:
        conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_event, None
        )

    def _on_event(self, _conn: Any, domain: libvirt.virDomain, event: int, detail: int, _o) -> None:
        # The guest's files go with it; a late "stopped" must not bring its directory back.
        if event == libvirt.VIR_DOMAIN_EVENT_UNDEFINED:
            return
        try:
            self.write(
                domain.UUIDString(),
                domain.name(),
                event_words(event, detail),
                create=event == libvirt.VIR_DOMAIN_EVENT_DEFINED,
            )
        except Exception:
            log.exception("cannot log the console event of %s", domain.UUIDString())

    def note(self, uuid: str, name: str, words: str) -> None:
        """A transition libvirt reports no event for (a soft reboot), logged after the
        events already queued: the event loop is asked to run a timer and, once it
        has (its pending events are dispatched before a newer timer), the line is
        written."""
        done = threading.Event()

        def barrier(timer: int, _opaque: Any) -> None:
            libvirt.virEventRemoveTimeout(timer)
            done.set()

        libvirt.virEventAddTimeout(0, barrier, None)
        done.wait(timeout=5)
        self.write(uuid, name, words)

    def write(self, uuid: str, name: str, words: str, *, create: bool = False) -> None:
        """Append `<time> <name> (<uuid>): <words>` to the guest's console log; only
        `create` makes its directory (the definition does), so a deleted guest's
        files stay gone."""
        path: Path = self._log_path_of(uuid)
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        # Only the definition creates the log: a late event must not bring back a file
        # (and with it the directory) that the deletion is removing right now.
        flags = os.O_WRONLY | os.O_APPEND | (os.O_CREAT if create else 0)
        with self._lock:
            try:
                descriptor = os.open(path, flags, 0o644)
            except FileNotFoundError:
                return  # the guest was deleted meanwhile
            with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
                handle.write(f"[{stamp}] {name} ({uuid}): {words}\n")


def endpoints_of(xml: str) -> dict[str, dict[str, Any]]:
    """The remote-console endpoints of a live domain: kind (vnc, spice, serial) ->
    {"host", "port"}; only those listening (a port libvirt allocated, a TCP serial)."""
    tree = ET.fromstring(xml)
    found: dict[str, dict[str, Any]] = {}
    for graphics in tree.findall("./devices/graphics"):
        kind = graphics.get("type")
        port = int(graphics.get("port") or -1)
        if kind not in ("vnc", "spice") or port <= 0:
            continue
        listen = graphics.find("listen")
        host = graphics.get("listen") or (listen.get("address") if listen is not None else None)
        found[kind] = {"host": host or "127.0.0.1", "port": port}
    for source in tree.findall("./devices/serial[@type='tcp']/source[@mode='bind']"):
        if re.fullmatch(r"[0-9]{1,5}", source.get("service", "")):
            found["serial"] = {
                "host": source.get("host") or "127.0.0.1",
                "port": int(source.get("service")),
            }
            break
    return found


def serial_port_of(xml: str) -> int | None:
    """The TCP port a defined domain's serial console listens on, if it has one."""
    serial = endpoints_of(xml).get("serial")
    return serial["port"] if serial else None


def free_serial_port(address: str, ports: range, taken: Iterable[int]) -> int | None:
    """The first port of `ports` no guest of this host was given and nothing listens
    on (a bind test on `address`); None when the range is used up."""
    busy = set(taken)
    for port in ports:
        if port in busy:
            continue
        with socket.socket() as probe:
            try:
                probe.bind((address, port))
            except OSError:
                continue
        return port
    return None
