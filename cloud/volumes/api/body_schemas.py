"""The JSON schemas of the Block Storage API's request bodies, one per operation
(Cinder v3's shapes, from its cinder/api/schemas, narrowed to what this cloud does).
Each is given to `@body` on its view method (cloud.api.schema), which validates the
request with it (400 in Cinder's error shape) and puts it in the OpenAPI document.

The clients send nulls for what they leave unset (`"description": null`,
`"consistencygroup_id": null`...), so the optional fields take null as Cinder's do."""

from cloud.api.schema import UUID, integer, obj, one_action, string, wrapped


def or_null(schema: dict) -> dict:
    """The schema, or null: one type list (jsonschema then says "5 is not of type
    'string', 'null'", as Cinder's validator, rather than an anyOf's vaguer words)."""
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    found = {**schema, "type": [*types, "null"]}
    if "enum" in schema:
        found["enum"] = [*schema["enum"], None]
    return found


# Cinder's parameter_types.boolean: JSON booleans and these words
# (cloud.volumes.api.parsing.boolean reads them).
BOOLEAN = {
    "type": ["boolean", "string"],
    "enum": [
        True,
        *("True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", "y", "t"),
        False,
        *("False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", "n", "f"),
    ],
}
# Cinder's volume_size: a positive integer, or its digits as a string.
SIZE = {**integer(1, strings=True), "pattern": r"^[0-9]+$"}
NAME = or_null(string())
DESCRIPTION = or_null(string())
OPTIONAL_UUID = or_null(UUID)
# Cinder's metadata and extra specs: keys of these characters, string values.
KEY = {"type": "string", "pattern": r"^[a-zA-Z0-9-_:. /]{1,255}$"}
METADATA = {
    "type": "object",
    "propertyNames": KEY,
    "additionalProperties": string(),
}
HINTS = {"type": "object"}

VOLUME_CREATE = obj(
    {
        "volume": obj(
            {
                "name": NAME,
                "description": DESCRIPTION,
                "display_name": NAME,
                "display_description": DESCRIPTION,
                "size": or_null(SIZE),
                "availability_zone": or_null(string(min_length=1)),
                "source_volid": OPTIONAL_UUID,
                "snapshot_id": OPTIONAL_UUID,
                "backup_id": OPTIONAL_UUID,
                "group_id": or_null(string()),
                "consistencygroup_id": OPTIONAL_UUID,
                "volume_type": or_null(string()),
                "metadata": or_null(METADATA),
                "imageRef": or_null(string()),
                "image_id": or_null(string()),
                "multiattach": or_null(BOOLEAN),
            },
            # Cinder takes (and ignores) keys it does not know here before 3.53; the
            # view refuses them from 3.53 (CREATE_FIELDS).
            closed=False,
        ),
        "OS-SCH-HNT:scheduler_hints": or_null(HINTS),
        "scheduler_hints": or_null(HINTS),
    },
    "volume",
)
CREATE_FIELDS = frozenset(VOLUME_CREATE["properties"]["volume"]["properties"])
# From 3.53 an update names at least one of these (the view checks it).
VOLUME_UPDATE = wrapped(
    "volume",
    obj(
        {
            "name": NAME,
            "description": DESCRIPTION,
            "display_name": NAME,
            "display_description": DESCRIPTION,
            "metadata": METADATA,
        }
    ),
)
VOLUME_ACTION = one_action(
    {
        "os-extend": obj({"new_size": SIZE}, "new_size"),
        "os-reset_status": obj(
            {"status": or_null(string(min_length=1)), "attach_status": or_null(string())}
        ),
        "os-set_bootable": obj({"bootable": BOOLEAN}, "bootable"),
        "os-update_readonly_flag": obj({"readonly": BOOLEAN}, "readonly"),
    }
)
METADATA_BODY = wrapped("metadata", METADATA)
META_ITEM = wrapped("meta", {**METADATA, "minProperties": 1, "maxProperties": 1})

SNAPSHOT_CREATE = wrapped(
    "snapshot",
    obj(
        {
            "volume_id": UUID,
            "name": NAME,
            "description": DESCRIPTION,
            "display_name": NAME,
            "display_description": DESCRIPTION,
            "force": or_null(BOOLEAN),
            "metadata": or_null(METADATA),
        },
        "volume_id",
    ),
)
SNAPSHOT_UPDATE = wrapped(
    "snapshot",
    obj(
        {
            "name": NAME,
            "description": DESCRIPTION,
            "display_name": NAME,
            "display_description": DESCRIPTION,
        }
    ),
)
SNAPSHOT_ACTION = one_action({"os-reset_status": obj({"status": string(min_length=1)}, "status")})

# Both spellings of a type's visibility, as the clients send one or the other.
_PUBLIC = {"os-volume-type-access:is_public": BOOLEAN, "is_public": BOOLEAN}
TYPE_CREATE = wrapped(
    "volume_type",
    obj(
        {
            "name": string(min_length=1),
            "description": DESCRIPTION,
            "extra_specs": or_null(METADATA),
            **_PUBLIC,
        },
        "name",
    ),
)
TYPE_UPDATE = wrapped(
    "volume_type",
    obj({"name": or_null(string(min_length=1)), "description": DESCRIPTION, **_PUBLIC}),
)
EXTRA_SPECS = wrapped("extra_specs", METADATA)
EXTRA_SPEC = {**METADATA, "minProperties": 1, "maxProperties": 1}

# A project's limits by resource name (cloud.identity.quotas knows the names): -1 for
# unlimited; `force` to set one below the usage; the project's id is taken and ignored.
QUOTA_SET = wrapped(
    "quota_set",
    {
        "type": "object",
        "properties": {"force": BOOLEAN, "id": string(), "tenant_id": string()},
        "propertyNames": {"pattern": r"^[a-zA-Z0-9-_:. ]{1,255}$"},
        "additionalProperties": integer(-1, strings=True),
        "minProperties": 1,
    },
)
