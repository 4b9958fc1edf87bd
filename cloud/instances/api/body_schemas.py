"""The JSON schemas of the compute API's request bodies, one per operation (Nova's
shapes, at the newest microversion; keys an older one does not take are refused by
the view). Each is given to `@body` on its view method (cloud.api.schema), which
validates the request with it and puts it in the OpenAPI document."""

from cloud.api.schema import (
    BOOLEAN_STRINGS,
    UUID,
    integer,
    nullable,
    obj,
    one_action,
    string,
    wrapped,
)
from cloud.identity import keypairs

NAME = string(min_length=1)
METADATA = {
    "type": "object",
    "maxProperties": 128,
    "propertyNames": {"minLength": 1, "maxLength": 255},
    "additionalProperties": string(),
}
COUNT = integer(0, strings=True)
# An extra spec's value: a string, or a number or boolean Nova stores as its string.
SPEC_VALUE = {"type": ["string", "number", "boolean"], "maxLength": 255}
# A body-less action: null, as Nova's clients send (an object is taken and ignored).
NO_ARGUMENTS = {"type": ["null", "object"]}

FLAVOR_CREATE = wrapped(
    "flavor",
    obj(
        {
            "name": NAME,
            "id": nullable({"anyOf": [string(min_length=1), {"type": "number"}]}),
            "ram": integer(1, strings=True),
            "vcpus": integer(1, strings=True),
            "disk": COUNT,
            "OS-FLV-EXT-DATA:ephemeral": COUNT,
            "swap": COUNT,
            "rxtx_factor": {"anyOf": [{"type": "number"}, string(64)]},
            "os-flavor-access:is_public": BOOLEAN_STRINGS,
            "description": nullable(string(65535)),
        },
        "name",
        "ram",
        "vcpus",
        "disk",
    ),
)
FLAVOR_UPDATE = wrapped("flavor", obj({"description": nullable(string(65535))}, "description"))
TENANT = obj({"tenant": string(min_length=1)}, "tenant")
FLAVOR_ACTION = one_action({"addTenantAccess": TENANT, "removeTenantAccess": TENANT})
EXTRA_SPECS = wrapped(
    "extra_specs",
    {
        "type": "object",
        "propertyNames": {"minLength": 1, "maxLength": 255},
        "additionalProperties": SPEC_VALUE,
    },
)
EXTRA_SPEC = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": SPEC_VALUE,
}

KEYPAIR_CREATE = wrapped(
    "keypair",
    obj(
        {
            "name": NAME,
            "public_key": {"type": "string"},
            "type": {"enum": list(keypairs.TYPES)},
            "user_id": {"type": "string"},
        },
        "name",
    ),
)

QUOTA_SET = wrapped(
    "quota_set",
    {
        "type": "object",
        "minProperties": 1,
        "properties": {"force": BOOLEAN_STRINGS},
        "additionalProperties": integer(-1, strings=True),
    },
)

SERVER_GROUP = wrapped(
    "server_group",
    obj(
        {
            "name": NAME,
            "policies": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
                "maxItems": 1,
            },
            "policy": {
                "enum": ["affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"]
            },
            "rules": obj({"max_server_per_host": integer(1, strings=True)}),
        },
        "name",
    ),
)

METADATA_BODY = wrapped("metadata", METADATA)
META_ITEM = wrapped("meta", {**METADATA, "minProperties": 1, "maxProperties": 1})

INTERFACE_ATTACH = wrapped(
    "interfaceAttachment",
    obj(
        {
            "net_id": string(),
            "port_id": string(),
            "fixed_ips": {
                "type": "array",
                "maxItems": 1,
                "items": obj({"ip_address": string(64)}, "ip_address"),
            },
            "tag": string(60),
        }
    ),
)

# Nova's parameter_types.boolean: JSON booleans and these words
# (cloud.instances.api.volume_attachments reads them).
BOOLEAN = {
    "type": ["boolean", "string"],
    "enum": [
        True,
        *("True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes"),
        False,
        *("False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"),
    ],
}
# Nova's match_device() pattern: /dev/ and a disk name (vdb, xvdc, sdb1...).
DEVICE = nullable({"type": "string", "pattern": r"(^/dev/x{0,1}[a-z]{0,1}d{0,1})([a-z]+)[0-9]*$"})
TAG = {"type": "string", "maxLength": 60, "pattern": r"^[^,/]*$"}
# os-volume_attachments at 2.79 (POST) and 2.85 (PUT); the view refuses the keys an
# older microversion does not take.
VOLUME_ATTACH = wrapped(
    "volumeAttachment",
    obj(
        {"volumeId": UUID, "device": DEVICE, "tag": TAG, "delete_on_termination": BOOLEAN},
        "volumeId",
    ),
)
VOLUME_ATTACHMENT_UPDATE = wrapped(
    "volumeAttachment",
    obj(
        {
            "volumeId": UUID,
            "device": DEVICE,
            "id": UUID,
            "serverId": UUID,
            "tag": TAG,
            "delete_on_termination": BOOLEAN,
        },
        "volumeId",
    ),
)

REMOTE_CONSOLE = wrapped(
    "remote_console",
    obj(
        {
            "protocol": {"enum": ["vnc", "spice", "serial", "rdp", "mks"]},
            "type": {"enum": ["novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial", "webmks"]},
        },
        "protocol",
        "type",
    ),
)

_CONSOLE = obj({"type": string()}, "type")
SERVER_ACTION = one_action(
    {
        "reboot": obj(
            {"type": {"type": "string", "pattern": "^[sShH][oOaA][fFrR][tTdD]$"}}, "type"
        ),
        **dict.fromkeys(("os-start", "os-stop", "pause", "unpause"), NO_ARGUMENTS),
        **dict.fromkeys(("suspend", "resume", "unlock"), NO_ARGUMENTS),
        "lock": nullable(obj({"locked_reason": string()})),
        "os-resetState": obj({"state": {"enum": ["active", "error"]}}, "state"),
        "os-getConsoleOutput": obj({"length": nullable(integer(-1, strings=True))}),
        "os-getVNCConsole": _CONSOLE,
        "os-getSPICEConsole": _CONSOLE,
        "os-getSerialConsole": _CONSOLE,
        "resize": obj(
            {
                "flavorRef": {"anyOf": [string(min_length=1), {"type": "integer"}]},
                "OS-DCF:diskConfig": {"enum": ["AUTO", "MANUAL"]},
            },
            "flavorRef",
        ),
        "confirmResize": NO_ARGUMENTS,
        "revertResize": NO_ARGUMENTS,
        "rebuild": obj(
            {
                "imageRef": string(min_length=1),
                "name": NAME,
                "metadata": METADATA,
                "description": nullable(string()),
                "accessIPv4": nullable(string(64)),
                "accessIPv6": nullable(string(64)),
                "OS-DCF:diskConfig": {"enum": ["AUTO", "MANUAL"]},
                "preserve_ephemeral": {"type": "boolean"},
            },
            "imageRef",
        ),
        "createImage": obj({"name": NAME, "metadata": METADATA}, "name"),
        "evacuate": obj({"host": string(min_length=1), "onSharedStorage": BOOLEAN_STRINGS}),
    }
)
