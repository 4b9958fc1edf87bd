"""Request bodies of the compute API, validated before any row is written."""

import base64
import binascii
import unicodedata

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from cloud.api.parsing import InvalidValue, parse_int, parse_uuid
from cloud.instances.extra_specs import KEY as METADATA_KEY

NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY


def printable(char: str) -> bool:
    """Nova's rule: no control/format/unassigned characters, and the only
    separators allowed are ordinary spaces (category Zs)."""
    category = unicodedata.category(char)
    return not category.startswith("C") and (not category.startswith("Z") or category == "Zs")


SERVER_KEYS = {
    "name",
    "imageRef",
    "flavorRef",
    "min_count",
    "max_count",
    "networks",
    "metadata",
    "availability_zone",
    "key_name",
    "description",
    "accessIPv4",
    "accessIPv6",
    "config_drive",
    "user_data",
    "block_device_mapping_v2",
    "security_groups",
    "OS-DCF:diskConfig",
    "return_reservation_id",
    "adminPass",
}


class _Name(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=255, allow_blank=False, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("must be a string")
        value = super().to_internal_value(data)
        if value[0].isspace() or value[-1].isspace() or not all(map(printable, value)):
            raise serializers.ValidationError(
                "must not start or end with whitespace, nor contain non-printable characters"
            )
        return value


@extend_schema_field(OpenApiTypes.STR)
class _Ref(serializers.Field):
    """flavorRef / imageRef: a string (or an int for flavors, as some clients send)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            raise serializers.ValidationError("must be a string")
        value = str(data).strip()
        if len(value) > 255:
            raise serializers.ValidationError("is too long (255 characters at most)")
        return value

    def to_representation(self, value):
        return value


class _Metadata(serializers.DictField):
    def __init__(self, **kwargs):
        super().__init__(child=serializers.CharField(max_length=255, allow_blank=True), **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if len(value) > 128:
            raise serializers.ValidationError("at most 128 items")
        for key in value:
            if not METADATA_KEY.match(key):
                raise serializers.ValidationError(
                    "keys must be 1 to 255 letters, digits or '-_:. ' characters"
                )
        return value


@extend_schema_field(OpenApiTypes.UUID)
class _Uuid(serializers.Field):
    """A UUID string (cloud.api.parsing), given back in its dashed form."""

    def to_internal_value(self, data):
        try:
            return parse_uuid(data, name=self.field_name)
        except InvalidValue:
            raise serializers.ValidationError("must be a UUID") from None

    def to_representation(self, value):
        return value


@extend_schema_field(OpenApiTypes.INT)
class _Integer(serializers.Field):
    """An integer (or its string of ASCII digits), in range (cloud.api.parsing)."""

    def __init__(self, *, minimum: int | None = None, **kwargs):
        self.minimum = minimum
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            return parse_int(data, name=self.field_name, minimum=self.minimum)
        except InvalidValue as exc:
            raise serializers.ValidationError(str(exc.detail)) from None

    def to_representation(self, value):
        return value


BDM_SOURCES = ("blank", "image", "snapshot", "volume")


class BlockDeviceMappingSerializer(serializers.Serializer):
    """One item of block_device_mapping_v2, typed as Nova's schema types it."""

    source_type = serializers.ChoiceField(choices=BDM_SOURCES, required=False)
    destination_type = serializers.ChoiceField(choices=("local", "volume"), required=False)
    uuid = _Uuid(required=False, allow_null=True)
    boot_index = _Integer(minimum=-1, required=False, allow_null=True)
    volume_size = _Integer(minimum=1, required=False, allow_null=True)
    delete_on_termination = serializers.BooleanField(required=False)
    device_name = serializers.CharField(max_length=255, required=False, allow_null=True)
    device_type = serializers.CharField(max_length=255, required=False, allow_null=True)
    disk_bus = serializers.CharField(max_length=255, required=False, allow_null=True)
    guest_format = serializers.CharField(max_length=255, required=False, allow_null=True)
    volume_type = serializers.CharField(max_length=255, required=False, allow_null=True)
    tag = serializers.CharField(max_length=60, required=False)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({NON_FIELD: ["each mapping must be an object"]})
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {NON_FIELD: [f"Additional properties are not allowed ({', '.join(unknown)})"]}
            )
        # What the boot path reads: the keys the client sent, checked and typed.
        checked = super().to_internal_value(data)
        return {key: checked[key] for key in data}


class ServerCreateSerializer(serializers.Serializer):
    name = _Name()
    imageRef = _Ref(required=False)
    flavorRef = _Ref()
    min_count = _Integer(minimum=1, required=False, default=1)
    max_count = _Integer(minimum=1, required=False, default=None)
    networks = serializers.JSONField(required=False)
    metadata = _Metadata(required=False, default=dict)
    availability_zone = serializers.CharField(max_length=255, required=False, allow_null=True)
    key_name = serializers.CharField(max_length=255, required=False, allow_null=True)
    description = serializers.CharField(
        max_length=255, required=False, allow_null=True, allow_blank=True
    )
    accessIPv4 = serializers.IPAddressField(protocol="IPv4", required=False, allow_null=True)
    accessIPv6 = serializers.IPAddressField(protocol="IPv6", required=False, allow_null=True)
    config_drive = serializers.BooleanField(required=False, default=False)
    user_data = serializers.CharField(max_length=65535, required=False, allow_null=True)
    block_device_mapping_v2 = serializers.ListField(
        child=BlockDeviceMappingSerializer(), required=False, max_length=32
    )
    security_groups = serializers.ListField(child=serializers.DictField(), required=False)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({NON_FIELD: ["'server' must be an object"]})
        unknown = sorted(set(data) - SERVER_KEYS)
        if unknown:
            raise serializers.ValidationError(
                {
                    NON_FIELD: [
                        f"Additional properties are not allowed "
                        f"({', '.join(map(repr, unknown))} "
                        f"{'was' if len(unknown) == 1 else 'were'} unexpected)"
                    ]
                }
            )
        return super().to_internal_value(data)

    def validate_networks(self, value):
        if value in ("none", "auto"):
            return value
        if not isinstance(value, list):
            raise serializers.ValidationError("must be 'none', 'auto' or a list of networks")
        for item in value:
            if not isinstance(item, dict):
                raise serializers.ValidationError("each network must be an object")
        return value

    def validate_user_data(self, value):
        if value is None:
            return value
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise serializers.ValidationError("must be base64-encoded") from exc
        return value

    def validate(self, attrs):
        attrs["max_count"] = attrs.get("max_count") or attrs["min_count"]
        if attrs["min_count"] > attrs["max_count"]:
            raise serializers.ValidationError("min_count must be <= max_count")
        if attrs["max_count"] > settings.MAX_INSTANCES_PER_REQUEST:
            raise serializers.ValidationError(
                f"max_count may be at most {settings.MAX_INSTANCES_PER_REQUEST} per request"
            )
        return attrs


class ServerGroupSerializer(serializers.Serializer):
    """os-server-groups create, per microversion: `policies` (one of them) before 2.64,
    `policy` and `rules` from it; soft policies from 2.15."""

    name = _Name()
    policies = serializers.ListField(
        child=serializers.CharField(), min_length=1, max_length=1, required=False
    )
    policy = serializers.CharField(required=False)
    rules = serializers.DictField(required=False, default=dict)

    def __init__(self, *args, version, **kwargs):
        super().__init__(*args, **kwargs)
        self.version = version

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({NON_FIELD: ["'server_group' must be an object"]})
        current = self.version.at_least("2.64")
        needed = {"name", "policy"} if current else {"name", "policies"}
        allowed = needed | ({"rules"} if current else set())
        unknown = sorted(set(data) - allowed)
        missing = sorted(needed - set(data))
        if unknown or missing:
            problems = [f"{', '.join(map(repr, unknown))} unexpected"] if unknown else []
            problems += [f"{', '.join(map(repr, missing))} required"] if missing else []
            raise serializers.ValidationError({NON_FIELD: ["; ".join(problems)]})
        return super().to_internal_value(data)

    def validate(self, attrs):
        policy = attrs.pop("policy", None) or attrs.pop("policies", [None])[0]
        known = ["affinity", "anti-affinity"]
        if self.version.at_least("2.15"):
            known += ["soft-affinity", "soft-anti-affinity"]
        if policy not in known:
            raise serializers.ValidationError(f"policy {policy!r} is not one of {', '.join(known)}")
        rules = attrs.get("rules") or {}
        unknown = sorted(set(rules) - {"max_server_per_host"})
        if unknown:
            raise serializers.ValidationError(f"unknown rules {', '.join(unknown)}")
        if "max_server_per_host" in rules:
            try:
                value = parse_int(
                    rules["max_server_per_host"], name="max_server_per_host", minimum=1
                )
            except InvalidValue:
                raise serializers.ValidationError(
                    "max_server_per_host must be a positive integer"
                ) from None
            rules = {"max_server_per_host": value}
        return {"name": attrs["name"], "policy": policy, "rules": rules}


REBUILD_KEYS = {
    "imageRef",
    "name",
    "metadata",
    "accessIPv4",
    "accessIPv6",
    "OS-DCF:diskConfig",
    "preserve_ephemeral",
}


class ServerRebuildSerializer(serializers.Serializer):
    """The rebuild action's body (Nova's schema, less what needs a guest agent:
    adminPass, personality, key_name and user_data are refused as unknown)."""

    imageRef = _Ref()
    name = _Name(required=False)
    metadata = _Metadata(required=False)
    description = serializers.CharField(
        max_length=255, required=False, allow_null=True, allow_blank=True
    )
    accessIPv4 = serializers.IPAddressField(protocol="IPv4", required=False, allow_null=True)
    accessIPv6 = serializers.IPAddressField(protocol="IPv6", required=False, allow_null=True)
    preserve_ephemeral = serializers.BooleanField(required=False)

    def __init__(self, *args, version, **kwargs):
        super().__init__(*args, **kwargs)
        self.allowed = REBUILD_KEYS | ({"description"} if version.at_least("2.19") else set())

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({NON_FIELD: ["'rebuild' must be an object"]})
        unknown = sorted(set(data) - self.allowed)
        if unknown:
            raise serializers.ValidationError(
                {
                    NON_FIELD: [
                        f"Additional properties are not allowed "
                        f"({', '.join(map(repr, unknown))} unexpected)"
                    ]
                }
            )
        return super().to_internal_value(data)


class ServerCreateImageSerializer(serializers.Serializer):
    """The createImage action's body: the image's name and its extra properties."""

    name = _Name()
    metadata = _Metadata(required=False, default=dict)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({NON_FIELD: ["'createImage' must be an object"]})
        unknown = sorted(set(data) - {"name", "metadata"})
        if unknown:
            raise serializers.ValidationError(
                {
                    NON_FIELD: [
                        f"Additional properties are not allowed "
                        f"({', '.join(map(repr, unknown))} unexpected)"
                    ]
                }
            )
        return super().to_internal_value(data)
