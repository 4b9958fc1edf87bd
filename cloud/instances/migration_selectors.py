"""Migration reads: the admin's os-migrations list, which placement consumers are
migrations still holding a host's allocation, and the conductor's: a migration with
its instance locked for its next step, an evacuation's locked for its end, the resizes
waiting to be confirmed."""

import uuid as uuidlib
from datetime import datetime

from django.db.models import Q, QuerySet

from cloud.api.errors import BadRequest
from cloud.api.pagination import after
from cloud.api.parsing import InvalidValue, to_uuid
from cloud.instances.choices import MigrationStatus
from cloud.instances.models import Flavor, Instance, Migration
from cloud.instances.resize import UNFINISHED

FILTERS = {
    "status": "status",
    "migration_type": "migration_type",
    "instance_uuid": "instance_uuid",
    "source_compute": "source_compute",
    "project_id": "project_id",
    "user_id": "user_id",
}


def _uuid(value: str, name: str) -> uuidlib.UUID:
    try:
        return to_uuid(value, name=name)
    except InvalidValue as exc:
        raise BadRequest(f"Invalid {name}: {value!r} is not a UUID.") from exc


def migration_list(*, params) -> QuerySet:
    """Every project's migrations, newest first, filtered as Nova's os-migrations is;
    `host` matches either end, `marker` is a migration's uuid."""
    qs = Migration.objects.all()
    for param, column in FILTERS.items():
        value = params.get(param)
        if value:
            qs = qs.filter(**{column: _uuid(value, param) if param == "instance_uuid" else value})
    if params.get("host"):
        qs = qs.filter(Q(source_compute=params["host"]) | Q(dest_compute=params["host"]))
    marker = params.get("marker")
    if marker:
        found = Migration.objects.filter(uuid=_uuid(marker, "marker")).first()
        if found is None:
            raise BadRequest(f"Marker {marker} could not be found.")
        qs = after(qs, found, "created_at", descending=True)
    return qs.order_by("-created_at", "-id")


def flavor_ids(*, migrations: list[Migration]) -> dict[str, int]:
    """The flavors' numeric ids (Nova's old/new_instance_type_id), by flavorid."""
    wanted = {f["flavorid"] for m in migrations for f in (m.old_flavor, m.new_flavor)}
    return dict(Flavor.objects.filter(flavorid__in=wanted).values_list("flavorid", "id"))


def migrations_holding(*, consumer_ids: list[uuidlib.UUID]) -> set[uuidlib.UUID]:
    """Which of these consumers are migrations whose allocation is still in use."""
    return set(
        Migration.objects.filter(uuid__in=consumer_ids, status__in=UNFINISHED).values_list(
            "uuid", flat=True
        )
    )


def migration_locked(*, migration_uuid: str) -> tuple[Migration, Instance] | None:
    """The migration and its instance, locked (instance first, as the api locks them);
    None when the instance is gone."""
    instance_uuid = (
        Migration.objects.filter(uuid=migration_uuid).values_list("instance_uuid", flat=True)
    ).first()
    instance = Instance.objects.select_for_update().filter(uuid=instance_uuid).first()
    if instance is None:
        return None
    return Migration.objects.select_for_update().get(uuid=migration_uuid), instance


def migration_evacuating_locked(*, instance_uuid: str) -> Migration | None:
    """The instance's evacuation under way (its rebuild on the new host), locked."""
    return (
        Migration.objects.select_for_update()
        .filter(
            instance_uuid=instance_uuid,
            migration_type="evacuation",
            status=MigrationStatus.MIGRATING,
        )
        .first()
    )


def migrations_unconfirmed(*, updated_before: datetime, limit: int) -> list[uuidlib.UUID]:
    """The uuids of resizes finished (awaiting their confirm) and unchanged since then."""
    due = Migration.objects.filter(status=MigrationStatus.FINISHED, updated_at__lt=updated_before)
    return list(due.values_list("uuid", flat=True)[:limit])
