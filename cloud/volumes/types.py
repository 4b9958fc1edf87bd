"""Volume types and their extra specs (Cinder's types API): what a volume's type says
of it: the backend it goes to (`volume_backend_name`) and whether it may be attached to
several instances at once (`multiattach="<is> True"`)."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from cloud.api.errors import BadRequest, Conflict, NotFound
from cloud.api.parsing import uuid_or_none
from cloud.identity.context import RequestContext
from cloud.volumes.models import DEFAULT_TYPE_NAME, VolumeType, VolumeTypeExtraSpec

SPEC_KEY_MAX = 255


def _is_true(value: str) -> bool:
    """Cinder's boolean spec values: "<is> True", "True", "true"."""
    return value.strip().lower().removeprefix("<is>").strip() == "true"


def type_multiattach(specs: dict[str, str]) -> bool:
    return _is_true(specs.get("multiattach", ""))


def type_backend(specs: dict[str, str]) -> str:
    return specs.get("volume_backend_name") or settings.VOLUME_DEFAULT_BACKEND


def volume_types_visible(*, context: RequestContext):
    rows = VolumeType.objects.prefetch_related("specs")
    return rows if context.is_admin else rows.filter(is_public=True)


def volume_type_find(*, context: RequestContext, name_or_id: str) -> VolumeType | None:
    rows = volume_types_visible(context=context)
    pk = uuid_or_none(name_or_id)
    found = rows.filter(Q(pk=pk) | Q(name=name_or_id)) if pk else rows.filter(name=name_or_id)
    return found.first()


def volume_type_default() -> VolumeType:
    kind = (
        VolumeType.objects.prefetch_related("specs")
        .filter(name=settings.VOLUME_DEFAULT_TYPE)
        .first()
    )
    if kind is None:
        kind, _ = VolumeType.objects.get_or_create(
            name=DEFAULT_TYPE_NAME, defaults={"description": "Default Volume Type"}
        )
    return kind


def volume_type_resolve(*, context: RequestContext, name_or_id: str | None) -> VolumeType:
    """The type a create names (by name or id), else the default; 404 for an unknown one
    (Cinder's VolumeTypeNotFoundByName)."""
    if not name_or_id:
        return volume_type_default()
    if not isinstance(name_or_id, str):
        raise BadRequest("Invalid input received: volume_type must be a string.")
    found = volume_type_find(context=context, name_or_id=name_or_id)
    if found is None:
        raise NotFound(f"Volume type with name {name_or_id} could not be found.")
    return found


def _specs_check(specs: object) -> dict[str, str]:
    if not isinstance(specs, dict):
        raise BadRequest("Invalid input received: extra_specs must be an object.")
    checked = {}
    for key, value in specs.items():
        if not isinstance(key, str) or not key or len(key) > SPEC_KEY_MAX:
            raise BadRequest(f"Invalid input received: bad extra spec key {key!r}.")
        if isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str | int) or len(str(value)) > SPEC_KEY_MAX:
            raise BadRequest(f"Invalid input received: bad value for extra spec {key}.")
        checked[key] = str(value)
    return checked


@transaction.atomic
def volume_type_create(
    *, name: object, description: object = "", is_public: bool = True, extra_specs: object = None
) -> VolumeType:
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise BadRequest("Invalid input received: Volume type name can not be empty.")
    if description is not None and not isinstance(description, str):
        raise BadRequest("Invalid input received: description must be a string.")
    specs = _specs_check(extra_specs or {})
    try:
        with transaction.atomic():
            kind = VolumeType.objects.create(
                name=name.strip(), description=description or "", is_public=is_public
            )
    except IntegrityError:
        raise Conflict(f"Volume Type {name} already exists.") from None
    VolumeTypeExtraSpec.objects.bulk_create(
        VolumeTypeExtraSpec(volume_type=kind, key=k, value=v) for k, v in specs.items()
    )
    return VolumeType.objects.prefetch_related("specs").get(pk=kind.pk)


@transaction.atomic
def volume_type_update(
    *, kind: VolumeType, name: object = None, description: object = None, is_public: object = None
) -> VolumeType:
    if name is not None:
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise BadRequest("Invalid input received: Volume type name can not be empty.")
        if VolumeType.objects.filter(name=name.strip()).exclude(pk=kind.pk).exists():
            raise Conflict(f"Volume Type {name} already exists.")
        kind.name = name.strip()
    if description is not None:
        if not isinstance(description, str):
            raise BadRequest("Invalid input received: description must be a string.")
        kind.description = description
    if is_public is not None:
        kind.is_public = bool(is_public)
    kind.save()
    return VolumeType.objects.prefetch_related("specs").get(pk=kind.pk)


@transaction.atomic
def volume_type_delete(*, kind: VolumeType) -> None:
    if kind.name == settings.VOLUME_DEFAULT_TYPE or kind.name == DEFAULT_TYPE_NAME:
        raise BadRequest("Invalid volume type: The default volume type can not be deleted.")
    if kind.volumes.exists():
        raise BadRequest(
            f"Target volume type is still in use: Volume Type {kind.id} deletion is not "
            "allowed with volumes present with the type."
        )
    kind.delete()


@transaction.atomic
def volume_type_specs_set(*, kind: VolumeType, specs: object) -> dict[str, str]:
    checked = _specs_check(specs)
    for key, value in checked.items():
        VolumeTypeExtraSpec.objects.update_or_create(
            volume_type=kind, key=key, defaults={"value": value}
        )
    return dict(kind.specs.values_list("key", "value"))


@transaction.atomic
def volume_type_spec_delete(*, kind: VolumeType, key: str) -> None:
    deleted, _ = VolumeTypeExtraSpec.objects.filter(volume_type=kind, key=key).delete()
    if not deleted:
        raise NotFound(f"Volume Type {kind.id} has no extra specs with key {key}.")
