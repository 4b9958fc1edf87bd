"""The volume backends on real files and real qemu-img / qemu-nbd: create (empty, from
a disk image, from a snapshot), extend, snapshot, delete (idempotent), NBD exports
shared by a volume's attachments; the manager's reports; no Django on the volume side."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cloud.payloads import ConnectionRequest, VolumeCreate, VolumeExtend, VolumeRef
from cloud.volumeworker.backends import BackendError, FileBackend, NbdBackend
from cloud.volumeworker.backends.file import GIB, virtual_size
from cloud.volumeworker.config import VolumeConfig
from cloud.volumeworker.manager import VolumeManager
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
VOL = "6f1c3b1e-1111-4a5b-9c2d-000000000001"


def _info(target: str) -> dict:
    done = subprocess.run(
        ["qemu-img", "info", "--output=json", "-U", target],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return json.loads(done.stdout)


def test_file_volumes_are_made_grown_copied_and_removed(tmp_path):
    backend = FileBackend(tmp_path)
    location = backend.create(VOL, 1)
    assert location == str(tmp_path / f"volume-{VOL}")
    assert _info(location)["format"] == "qcow2" and virtual_size(Path(location)) == GIB
    assert backend.create(VOL, 1) == location  # redelivered: the same volume
    backend.extend(VOL, 2)
    backend.extend(VOL, 2)
    assert virtual_size(Path(location)) == 2 * GIB
    snap = backend.snapshot_create(VOL, "s1")
    assert Path(snap).exists() and virtual_size(Path(snap)) == 2 * GIB
    copy = backend.create("copy", 3, Path(snap))
    assert virtual_size(Path(copy)) == 3 * GIB
    assert backend.initialize_connection(VOL, "a1", "cmp-1") == {
        "driver_volume_type": "file",
        "path": location,
        "format": "qcow2",
    }
    backend.snapshot_delete("s1")
    backend.delete(VOL)
    backend.delete(VOL)
    assert not Path(location).exists() and not Path(snap).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["volume-copy"]
    with pytest.raises(BackendError, match="no data"):
        backend.extend(VOL, 4)
    total, free = backend.capacity_gb()
    assert total >= free > 0


def test_nbd_exports_one_server_per_volume_for_all_its_attachments(tmp_path):
    port = free_port()
    backend = NbdBackend(tmp_path, address="127.0.0.1", ports=range(port, port + 5))
    backend.create(VOL, 1)
    first = backend.initialize_connection(VOL, "a1", "cmp-1")
    again = backend.initialize_connection(VOL, "a2", "cmp-2")
    assert first == again
    assert first["driver_volume_type"] == "nbd" and first["format"] == "raw"
    url = f"nbd://{first['host']}:{first['port']}/{first['export_name']}"
    assert _info(url)["virtual-size"] == GIB  # a client reads it over the network
    pid = backend.exports()[VOL]["pid"]
    backend.terminate_connection(VOL, "a1")
    assert backend.exports()[VOL]["attachments"] == ["a2"]
    os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    backend.start()  # the export comes back on the same port
    assert backend.exports()[VOL]["port"] == first["port"]
    assert _info(url)["virtual-size"] == GIB
    backend.terminate_connection(VOL, "a2")
    backend.terminate_connection(VOL, "a2")
    assert backend.exports() == {}
    with pytest.raises(subprocess.CalledProcessError):
        _info(url)


def test_the_manager_reports_every_outcome(tmp_path):
    sent: list[tuple[str, dict]] = []
    config = VolumeConfig(backend="file", driver="file", host="vol-1", path=tmp_path)
    manager = VolumeManager(config, FileBackend(tmp_path), lambda t, p: sent.append((t, p)))
    manager.create_volume(VolumeCreate(volume_id=VOL, backend="file", size=1))
    manager.extend_volume(
        VolumeExtend(volume_id=VOL, backend="file", provider_location="", new_size=2)
    )
    manager.create_volume(
        VolumeCreate(volume_id="v2", backend="file", size=1, snapshot_id="missing")
    )
    manager.initialize_connection(
        ConnectionRequest(
            attachment_id="a", volume_id="nope", backend="file", host="h", provider_location=""
        )
    )
    manager.delete_volume(VolumeRef(volume_id=VOL, backend="file", size=2))
    manager.heartbeat()
    names = [task for task, _ in sent]
    assert names == [
        "conductor.volume_created",
        "conductor.volume_extended",
        "conductor.volume_created",
        "conductor.volume_connection_ready",
        "conductor.volume_deleted",
        "conductor.volume_backend_heartbeat",
    ]
    created, extended, failed, connection, deleted, report = (p for _, p in sent)
    assert created.provider_location.endswith(VOL) and not created.error
    assert extended.size == 2 and not extended.error
    assert "snapshot missing has no data" in failed.error
    assert connection.connection == {} and "could not be connected" in connection.error
    assert not deleted.error and not (tmp_path / f"volume-{VOL}").exists()
    assert report.backend == "file" and report.total_capacity_gb > 0


def test_the_volume_worker_loads_no_django(tmp_path):
    probe = (
        "import json, sys; import cloud.volumeworker.tasks as t; "
        "print(json.dumps({'modules': sorted(sys.modules), "
        "'tasks': sorted(n for n in t.app.tasks if n.startswith('volume.')), "
        "'queue': t.app.conf.task_default_queue}))"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH"}
    }
    env.update(VOLUME_BACKEND="nbd", VOLUME_PATH=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    forbidden = ("django.db", "django.conf", "rest_framework", "cloud.settings", "cloud.volumes")
    assert not [m for m in found["modules"] if m.startswith(forbidden)]
    assert found["queue"] == "volume.nbd"
    assert len(found["tasks"]) == 7
