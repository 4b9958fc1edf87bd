"""Flavor writes (Nova's os-flavor-manage, os-extra_specs and os-flavor-access): create
and delete flavors, change a description, set and unset extra specs, share a private
flavor with projects and stop sharing it.

A flavor deleted while servers use it changes nothing for them: each instance (and
each resize's migration) holds its own copy of the flavor, extra specs included, and
the scheduler's request specs hold the resources; so deleting is never refused.
Names and ids are unique: a duplicate is Nova's 409, decided by the database's unique
constraints so that two concurrent creates cannot both pass.
"""

import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from cloud.api.errors import BadRequest, Conflict, NotFound
from cloud.identity.admin_selectors import project_find
from cloud.instances.models import Flavor, FlavorAccess, FlavorExtraSpec


@dataclass(frozen=True)
class FlavorCreate:
    name: str
    memory_mb: int
    vcpus: int
    root_gb: int
    flavorid: str | None = None
    ephemeral_gb: int = 0
    swap: int = 0
    rxtx_factor: float = 1.0
    is_public: bool = True
    description: str | None = None


def flavor_create(*, spec: FlavorCreate) -> Flavor:
    """Create the flavor (a UUID for its id when none is given); 409 for a name or an id
    already taken."""
    flavorid = spec.flavorid or str(uuid.uuid4())
    if Flavor.objects.filter(flavorid=flavorid).exists():
        raise Conflict(f"Flavor with ID {flavorid} already exists.")
    if Flavor.objects.filter(name=spec.name).exists():
        raise Conflict(f"Flavor with name {spec.name} already exists.")
    try:
        with transaction.atomic():
            return Flavor.objects.create(
                flavorid=flavorid,
                name=spec.name,
                memory_mb=spec.memory_mb,
                vcpus=spec.vcpus,
                root_gb=spec.root_gb,
                ephemeral_gb=spec.ephemeral_gb,
                swap=spec.swap,
                rxtx_factor=spec.rxtx_factor,
                is_public=spec.is_public,
                description=spec.description,
            )
    except IntegrityError:
        # A concurrent create took the name or the id between the checks and the insert.
        if Flavor.objects.filter(flavorid=flavorid).exists():
            raise Conflict(f"Flavor with ID {flavorid} already exists.") from None
        raise Conflict(f"Flavor with name {spec.name} already exists.") from None


def flavor_delete(*, flavor_id: str) -> None:
    """Delete the flavor with its extra specs and access list; 404 when there is none.
    Servers keep their copy of it."""
    deleted, _ = Flavor.objects.filter(flavorid=flavor_id).delete()
    if not deleted:
        raise NotFound(f"Flavor {flavor_id} could not be found.")


def flavor_description_set(*, flavor: Flavor, description: str | None) -> Flavor:
    """Nova's flavor update (2.55): the description is the one thing that may change."""
    Flavor.objects.filter(pk=flavor.pk).update(description=description)
    flavor.description = description
    return flavor


@transaction.atomic
def flavor_extra_specs_set(*, flavor: Flavor, specs: dict[str, str]) -> None:
    """Add these extra specs to the flavor, replacing the values of keys it has."""
    locked = Flavor.objects.select_for_update().filter(pk=flavor.pk).first()
    if locked is None:
        raise NotFound(f"Flavor {flavor.flavorid} could not be found.")
    existing = {spec.key: spec for spec in FlavorExtraSpec.objects.filter(flavor=locked)}
    changed = []
    for key, value in specs.items():
        if key in existing:
            existing[key].value = value
            changed.append(existing[key])
    FlavorExtraSpec.objects.bulk_update(changed, ["value"])
    FlavorExtraSpec.objects.bulk_create(
        FlavorExtraSpec(flavor=locked, key=key, value=value)
        for key, value in specs.items()
        if key not in existing
    )


def flavor_extra_spec_delete(*, flavor: Flavor, key: str) -> None:
    """Unset one extra spec; Nova's 404 when the flavor has no such key."""
    deleted, _ = FlavorExtraSpec.objects.filter(flavor=flavor, key=key).delete()
    if not deleted:
        raise NotFound(f"Flavor {flavor.flavorid} has no extra specs with key {key}.")


def _project_check(project_id: str) -> None:
    """Nova asks Keystone whether the project exists: 400 when it does not."""
    if project_find(project_id=project_id) is None:
        raise BadRequest(f"Project ID {project_id} is not a valid project.")


def flavor_access_add(*, flavor: Flavor, project_id: str, refuse_public: bool) -> None:
    """Share the flavor with a project (an existing one); 409 when it already is, and
    (2.7+, `refuse_public`) for a public flavor, which every project sees."""
    _project_check(project_id)
    if refuse_public and flavor.is_public:
        raise Conflict("Can not add access to a public flavor.")
    try:
        with transaction.atomic():
            FlavorAccess.objects.create(flavor=flavor, project_id=project_id)
    except IntegrityError:
        raise Conflict(
            f"Flavor access already exists for flavor {flavor.flavorid} and project "
            f"{project_id} combination."
        ) from None


def flavor_access_remove(*, flavor: Flavor, project_id: str) -> None:
    """Stop sharing the flavor with a project (which need not exist any more); 404 when
    it was not shared with it."""
    deleted, _ = FlavorAccess.objects.filter(flavor=flavor, project_id=project_id).delete()
    if not deleted:
        raise NotFound(f"Flavor access not found for {flavor.flavorid} / {project_id} combination.")
