"""The JSON schemas of the host API's request bodies (os-aggregates, os-services; Nova's
shapes at the newest microversion), one per operation, given to `@body` on the views
(cloud.api.schema): validated with and documented in the OpenAPI document."""

from cloud.api.schema import BOOLEAN_STRINGS, nullable, obj, one_action, string, wrapped

NAME = string(min_length=1)
AGGREGATE = wrapped(
    "aggregate", obj({"name": NAME, "availability_zone": nullable(string(min_length=1))})
)
AGGREGATE_CREATE = wrapped(
    "aggregate", obj({"name": NAME, "availability_zone": nullable(string(min_length=1))}, "name")
)
HOST = obj({"host": NAME}, "host")
AGGREGATE_ACTION = one_action(
    {
        "add_host": HOST,
        "remove_host": HOST,
        "set_metadata": obj(
            {"metadata": {"type": "object", "additionalProperties": nullable(string())}},
            "metadata",
        ),
    }
)

SERVICE_UPDATE = obj(
    {
        "status": {"enum": ["enabled", "disabled"]},
        "disabled_reason": string(min_length=1),
        "forced_down": BOOLEAN_STRINGS,
        # Before 2.53, /os-services/{action} names the service by host and binary.
        "host": string(),
        "binary": string(),
    },
    minProperties=1,
)
