"""schemathesis hooks for deploy/fuzz.py (loaded through SCHEMATHESIS_HOOKS): the media
types of our API that schemathesis cannot serialize on its own."""

import json

import schemathesis


@schemathesis.serializer(
    "application/openstack-images-v2.1-json-patch",
    "application/openstack-images-v2.0-json-patch",
)
def json_patch(ctx, value):
    """Glance's JSON-patch bodies are JSON documents under their own media type."""
    return {"data": json.dumps(value).encode()}
