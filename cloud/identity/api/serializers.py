"""Request bodies of the identity administration API, validated before any row is written.

Types are strict, as Keystone's JSON schemas are: a name is a non-blank string, a flag is
true or false (not "yes", not 1). Attributes Keystone accepts but Stratus does not keep
(tags, options, extra attributes) are ignored.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


class _String(serializers.CharField):
    """A string, never a number turned into one."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("must be a string")
        return super().to_internal_value(data)


class _Name(_String):
    def __init__(self, max_length: int, **kwargs):
        super().__init__(max_length=max_length, **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not value.strip():
            raise serializers.ValidationError("must not be blank")
        return value


class _Text(_String):
    """A description or an email: a string, possibly empty; null is stored as empty."""

    def __init__(self, **kwargs):
        super().__init__(allow_blank=True, allow_null=True, required=False, **kwargs)

    def validate_empty_values(self, data):
        if data is None:
            return True, ""
        return super().validate_empty_values(data)


@extend_schema_field(OpenApiTypes.BOOL)
class _Flag(serializers.Field):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            raise serializers.ValidationError("must be a boolean (true or false)")
        return data

    def to_representation(self, value):
        return value


class _Entity(serializers.Serializer):
    """An object; on update (partial) its `id`, if given, must be the one in the URL
    (context["id"]). On create an `id` is ignored: the server makes ids."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["must be an object"]})
        if self.partial and "id" in data and data["id"] != self.context.get("id"):
            raise serializers.ValidationError({"id": ["Cannot change ID"]})
        return super().to_internal_value(data)


class DomainSerializer(_Entity):
    name = _Name(max_length=64)
    description = _Text()
    enabled = _Flag(required=False)


class ProjectSerializer(_Entity):
    name = _Name(max_length=64)
    domain_id = _Name(max_length=64, required=False)
    description = _Text()
    enabled = _Flag(required=False)
    is_domain = _Flag(required=False)
    parent_id = _String(required=False, allow_null=True)

    def validate_is_domain(self, value):
        if value:
            raise serializers.ValidationError("projects acting as domains are not supported")
        return value

    def validate(self, attrs):
        if self.partial and "parent_id" in attrs:
            raise serializers.ValidationError(
                {"parent_id": ["Update of `parent_id` is not allowed."]}
            )
        parent = attrs.pop("parent_id", None)
        attrs.pop("is_domain", None)
        if parent is not None and parent != attrs.get("domain_id", parent):
            raise serializers.ValidationError(
                {"parent_id": ["must be the project's domain: nested projects are not supported"]}
            )
        if parent is not None and "domain_id" not in attrs:
            attrs["domain_id"] = parent
        return attrs


class UserSerializer(_Entity):
    name = _Name(max_length=150)
    domain_id = _Name(max_length=64, required=False)
    password = _String(required=False, allow_null=True, max_length=4096)
    email = _Text(max_length=254)
    description = _Text()
    enabled = _Flag(required=False)
    default_project_id = _String(required=False, allow_null=True, max_length=64)


class RoleSerializer(_Entity):
    name = _Name(max_length=255)
    description = _Text()
    domain_id = serializers.JSONField(required=False)

    def validate_domain_id(self, value):
        if value is not None:
            raise serializers.ValidationError("domain-specific roles are not supported")
        return value

    def validate(self, attrs):
        attrs.pop("domain_id", None)
        return attrs
