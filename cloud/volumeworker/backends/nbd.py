"""The nbd backend, for hosts that share no storage (in the shape of Cinder's iSCSI
drivers): volumes are files on the volume host, and each attached volume is exported
over NBD by a qemu-nbd of its own (Debian's qemu-utils), which the compute attaches as
a libvirt network disk. A volume lives here, never on the compute.

One export per volume, on a port of its own from the configured range, shared by all
of the volume's attachments (a multiattach volume's too: qemu-nbd --shared=0) and
stopped when the last goes. The exports are recorded in a state file beside the
volumes, so a restarted worker knows them: at start it restarts any whose qemu-nbd
died, on the same port, so attached guests reconnect to the same address.
"""

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cloud.volumeworker.backends.base import BackendError
from cloud.volumeworker.backends.file import FileBackend

START_TIMEOUT = 30.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_free(address: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


class NbdBackend(FileBackend):
    driver = "nbd"

    def __init__(
        self, directory: Path, *, volume_format: str = "qcow2", address: str, ports: range
    ) -> None:
        super().__init__(directory, volume_format=volume_format)
        self.address = address
        self.ports = ports
        self.state_file = self.directory / ".nbd-exports.json"
        self.run_dir = self.directory / ".nbd"
        self.run_dir.mkdir(exist_ok=True)

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, dict[str, Any]]]:
        """The recorded exports, locked (threads and processes) while the block runs,
        saved when it ends."""
        with (self.directory / ".nbd-exports.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
                yield state
                partial = self.state_file.with_suffix(".part")
                partial.write_text(json.dumps(state, indent=1, sort_keys=True))
                os.replace(partial, self.state_file)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @staticmethod
    def export_name(volume_id: str) -> str:
        return f"volume-{volume_id}"

    def _pid_file(self, volume_id: str) -> Path:
        return self.run_dir / f"{volume_id}.pid"

    def _serve(self, volume_id: str, port: int) -> int:
        """Start qemu-nbd for the volume on `port`; its pid once it is listening
        (--fork returns when the server is ready)."""
        pid_file = self._pid_file(volume_id)
        pid_file.unlink(missing_ok=True)
        command = [
            "qemu-nbd",
            "--fork",
            f"--pid-file={pid_file}",
            "--persistent",
            "--shared=0",
            f"--export-name={self.export_name(volume_id)}",
            f"--bind={self.address}",
            f"--port={port}",
            f"--format={self.format}",
            "--cache=none",
            "--aio=threads",
            str(self.path(volume_id)),
        ]
        try:
            subprocess.run(
                command, check=True, capture_output=True, text=True, timeout=START_TIMEOUT
            )
        except subprocess.CalledProcessError as exc:
            raise BackendError(
                f"qemu-nbd could not export {volume_id}: {exc.stderr.strip()}"
            ) from exc
        except (OSError, subprocess.SubprocessError) as exc:
            raise BackendError(f"qemu-nbd could not export {volume_id}: {exc}") from exc
        return int(pid_file.read_text().strip())

    def _free_port(self, state: dict[str, dict[str, Any]]) -> int:
        taken = {entry["port"] for entry in state.values()}
        for port in self.ports:
            if port not in taken and _port_free(self.address, port):
                return port
        raise BackendError(f"no free NBD port in {self.ports.start}-{self.ports.stop - 1}")

    def _connection(self, volume_id: str, port: int) -> dict[str, Any]:
        return {
            "driver_volume_type": "nbd",
            "host": self.address,
            "port": port,
            "export_name": self.export_name(volume_id),
            # qemu-nbd serves what the guest sees: the qcow2 layer stays on this host.
            "format": "raw",
        }

    def initialize_connection(
        self, volume_id: str, attachment_id: str, host: str
    ) -> dict[str, Any]:
        if not self.path(volume_id).exists():
            raise BackendError(f"volume {volume_id} has no data on this backend")
        with self._state() as state:
            entry = state.get(volume_id)
            if entry is None or not _alive(entry["pid"]):
                port = entry["port"] if entry else self._free_port(state)
                entry = {
                    "port": port,
                    "pid": self._serve(volume_id, port),
                    "attachments": entry["attachments"] if entry else [],
                }
            if attachment_id not in entry["attachments"]:
                entry["attachments"].append(attachment_id)
            state[volume_id] = entry
            return self._connection(volume_id, entry["port"])

    def _unexport(self, state: dict[str, dict[str, Any]], volume_id: str) -> None:
        entry = state.pop(volume_id, None)
        if entry and _alive(entry["pid"]):
            with contextlib.suppress(ProcessLookupError):
                os.kill(entry["pid"], signal.SIGTERM)
        self._pid_file(volume_id).unlink(missing_ok=True)

    def terminate_connection(self, volume_id: str, attachment_id: str) -> None:
        with self._state() as state:
            entry = state.get(volume_id)
            if entry is None:
                return
            if attachment_id in entry["attachments"]:
                entry["attachments"].remove(attachment_id)
            if not entry["attachments"]:
                self._unexport(state, volume_id)

    def delete(self, volume_id: str) -> None:
        with self._state() as state:
            self._unexport(state, volume_id)
        super().delete(volume_id)

    def exports(self) -> dict[str, dict[str, Any]]:
        with self._state() as state:
            return {k: dict(v) for k, v in state.items()}

    def start(self) -> None:
        """Serve again the exports whose qemu-nbd is gone (the machine rebooted, or
        someone killed it), on the ports the computes know."""
        with self._state() as state:
            for volume_id, entry in list(state.items()):
                if not self.path(volume_id).exists():
                    self._unexport(state, volume_id)
                elif not _alive(entry["pid"]):
                    entry["pid"] = self._serve(volume_id, entry["port"])
