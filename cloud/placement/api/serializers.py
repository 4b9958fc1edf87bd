"""Request bodies of the placement API, validated as strictly as Placement's JSON schemas
(exact types, no unknown keys) before any row is written. The microversion, in the
serializer context, decides which keys a body has."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from cloud.api.parsing import is_uuid, parse_uuid
from cloud.placement import standard
from cloud.placement.api.microversion import MAX

NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY
MAX_INT = 2147483647
MAX_FLOAT = 3.40282e38
# Consumers keep project and user ids in 64 characters.
ID_MAX_LENGTH = 64


class Integer(serializers.IntegerField):
    """A JSON integer: not a string, a float or a boolean."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class Number(serializers.FloatField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("invalid")
        return super().to_internal_value(data)


class String(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.UUID)
class Uuid(serializers.Field):
    """A UUID string, dashed or not, given back in its dashed form."""

    default_error_messages = {"invalid": "'{value}' is not a 'uuid'"}

    def to_internal_value(self, data):
        if not is_uuid(data):
            self.fail("invalid", value=data)
        return parse_uuid(data, name=self.field_name)

    def to_representation(self, value):
        return value


class Name(String):
    """A resource class or trait name (A-Z, 0-9 and _); `custom` ones start CUSTOM_."""

    def __init__(self, custom: bool = False, **kwargs):
        super().__init__(max_length=standard.NAME_MAX_LENGTH, **kwargs)
        self.custom = custom

    def to_internal_value(self, data):
        name = super().to_internal_value(data)
        pattern = standard.CUSTOM_NAME if self.custom else standard.NAME
        if not pattern.match(name):
            raise serializers.ValidationError(f"'{name}' does not match '{pattern.pattern}'")
        return name


class Closed(serializers.Serializer):
    """An object with exactly the declared keys (Placement's additionalProperties: false)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                verb = "was" if len(unknown) == 1 else "were"
                raise serializers.ValidationError(
                    {
                        NON_FIELD: [
                            "Additional properties are not allowed "
                            f"({', '.join(map(repr, unknown))} {verb} unexpected)"
                        ]
                    }
                )
        return super().to_internal_value(data)

    @property
    def version(self):
        # Without a request (the OpenAPI document) a body is shown at the newest version.
        return self.context.get("version", MAX)


class UniqueList(serializers.ListField):
    def to_internal_value(self, data):
        found = super().to_internal_value(data)
        if len(set(found)) != len(found):
            raise serializers.ValidationError(f"{data} has non-unique elements")
        return found


# --- providers ---------------------------------------------------------------------


class ProviderUpdate(Closed):
    name = String(max_length=200)
    parent_provider_uuid = Uuid(required=False, allow_null=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.version.at_least("1.14"):
            del self.fields["parent_provider_uuid"]


class ProviderCreate(ProviderUpdate):
    uuid = Uuid(required=False)


# --- inventories -------------------------------------------------------------------


class Inventory(Closed):
    total = Integer(min_value=1, max_value=MAX_INT)
    reserved = Integer(min_value=0, max_value=MAX_INT, default=0)
    min_unit = Integer(min_value=1, max_value=MAX_INT, default=1)
    max_unit = Integer(min_value=1, max_value=MAX_INT, default=MAX_INT)
    step_size = Integer(min_value=1, max_value=MAX_INT, default=1)
    allocation_ratio = Number(max_value=MAX_FLOAT, default=1.0)

    def validate_allocation_ratio(self, value):
        if value <= 0:
            raise serializers.ValidationError("must be greater than 0")
        return value

    def validate(self, attrs):
        # Reserved may equal the total (nothing left to allocate) from 1.26.
        if attrs["reserved"] > attrs["total"] or (
            attrs["reserved"] == attrs["total"] and not self.version.at_least("1.26")
        ):
            relation = (
                "greater than" if self.version.at_least("1.26") else "greater than or equal to"
            )
            raise serializers.ValidationError(f"The reserved value is {relation} total.")
        if attrs["min_unit"] > attrs["max_unit"]:
            raise serializers.ValidationError("min_unit must not be greater than max_unit.")
        return attrs


class InventoryUpdate(Inventory):
    resource_provider_generation = Integer()


class InventoryCreate(Inventory):
    resource_class = Name()
    resource_provider_generation = Integer(required=False)


class Inventories(Closed):
    resource_provider_generation = Integer()
    inventories = serializers.DictField(child=Inventory())

    def validate_inventories(self, value):
        for rc in value:
            Name().run_validation(rc)
        return value


# --- traits, aggregates, resource classes ------------------------------------------


class ProviderTraits(Closed):
    traits = UniqueList(child=Name())
    resource_provider_generation = Integer()


class ProviderAggregates(Closed):
    """From 1.19 the list comes in an object with the provider generation."""

    aggregates = UniqueList(child=Uuid())
    resource_provider_generation = Integer()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.version.at_least("1.19"):
            del self.fields["resource_provider_generation"]


class ResourceClass(Closed):
    name = Name(custom=True)


# --- allocations -------------------------------------------------------------------


class Resources(serializers.DictField):
    """{class: amount}: at least one class, each amount a positive integer."""

    def __init__(self, **kwargs):
        super().__init__(child=Integer(min_value=1, max_value=MAX_INT), **kwargs)

    def to_internal_value(self, data):
        found = super().to_internal_value(data)
        if not found:
            raise serializers.ValidationError("does not have enough properties")
        for rc in found:
            Name().run_validation(rc)
        return found


class ProviderRef(Closed):
    uuid = Uuid()


class ListedAllocation(Closed):
    """One item of the allocations list before 1.12."""

    resource_provider = ProviderRef()
    resources = Resources()


class ProviderAllocation(Closed):
    """One provider's entry in the allocations object from 1.12 (its generation is ignored)."""

    resources = Resources()
    generation = Integer(required=False)


class ConsumerAllocations(Closed):
    """A consumer's allocations (PUT /allocations/{uuid}, or one entry of POST
    /allocations when `many`), normalized to {"allocations": {provider uuid: {class:
    amount}}, ...}."""

    allocations = serializers.JSONField()
    project_id = String(min_length=1, max_length=ID_MAX_LENGTH)
    user_id = String(min_length=1, max_length=ID_MAX_LENGTH)
    consumer_generation = Integer(allow_null=True)
    mappings = serializers.DictField(child=serializers.ListField(child=Uuid(), min_length=1))
    consumer_type = Name()

    many = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        since = {
            "project_id": "1.8",
            "user_id": "1.8",
            "consumer_generation": "1.28",
            "mappings": "1.34",
            "consumer_type": "1.38",
        }
        for name, version in since.items():
            if not self.version.at_least(version):
                del self.fields[name]
        if "mappings" in self.fields:
            self.fields["mappings"].required = False

    def validate_allocations(self, value):
        if not self.version.at_least("1.12"):
            listed = serializers.ListField(child=ListedAllocation(), min_length=1)
            listed.bind("allocations", self)
            items = listed.run_validation(value)
            return {item["resource_provider"]["uuid"]: item["resources"] for item in items}
        entries = serializers.DictField(child=ProviderAllocation())
        entries.bind("allocations", self)
        found = entries.run_validation(value)
        empty_allowed = self.version.at_least("1.28") or self.many
        if not found and not empty_allowed:
            raise serializers.ValidationError("does not have enough properties")
        if not all(is_uuid(p) for p in found):
            raise serializers.ValidationError("keys must be resource provider UUIDs")
        return {parse_uuid(p, name="allocations"): entry["resources"] for p, entry in found.items()}


class ManyConsumerAllocations(ConsumerAllocations):
    many = True
