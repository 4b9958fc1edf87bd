"""Volume worker tasks: read the message, call the manager. Names are part of the format."""

from typing import Any

from cloud.messaging import (
    VOLUME_CREATE,
    VOLUME_DELETE,
    VOLUME_EXTEND,
    VOLUME_INITIALIZE_CONNECTION,
    VOLUME_SNAPSHOT_CREATE,
    VOLUME_SNAPSHOT_DELETE,
    VOLUME_TERMINATE_CONNECTION,
)
from cloud.payloads import (
    ConnectionRequest,
    VolumeCreate,
    VolumeExtend,
    VolumeRef,
    VolumeSnapshotRequest,
)
from cloud.volumeworker.app import app, manager, read


@app.task(name=VOLUME_CREATE)
def create_volume(payload: dict[str, Any]) -> None:
    manager().create_volume(read(VolumeCreate, payload))


@app.task(name=VOLUME_DELETE)
def delete_volume(payload: dict[str, Any]) -> None:
    manager().delete_volume(read(VolumeRef, payload))


@app.task(name=VOLUME_EXTEND)
def extend_volume(payload: dict[str, Any]) -> None:
    manager().extend_volume(read(VolumeExtend, payload))


@app.task(name=VOLUME_SNAPSHOT_CREATE)
def create_snapshot(payload: dict[str, Any]) -> None:
    manager().create_snapshot(read(VolumeSnapshotRequest, payload))


@app.task(name=VOLUME_SNAPSHOT_DELETE)
def delete_snapshot(payload: dict[str, Any]) -> None:
    manager().delete_snapshot(read(VolumeSnapshotRequest, payload))


@app.task(name=VOLUME_INITIALIZE_CONNECTION)
def initialize_connection(payload: dict[str, Any]) -> None:
    manager().initialize_connection(read(ConnectionRequest, payload))


@app.task(name=VOLUME_TERMINATE_CONNECTION)
def terminate_connection(payload: dict[str, Any]) -> None:
    manager().terminate_connection(read(ConnectionRequest, payload))
