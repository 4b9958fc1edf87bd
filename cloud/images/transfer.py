"""Short-lived, image-scoped transfer credentials for hosts that have no database.

A compute host downloads the image it boots from, and uploads the snapshot it
took, over HTTP through the image API (`/image/v2/images/{id}/file`). It holds
no user token and no admin password: the control plane puts in its payload a
token made here, signed with SECRET_KEY (django.core.signing), that names one
image, one action ("download" or "upload") and an expiry. The image file views
accept it in the `X-Image-Transfer-Token` header instead of `X-Auth-Token`, for
exactly that image and action until it expires. No database row is needed:
the signature is the proof.
"""

import time
from typing import Literal

from django.conf import settings
from django.core import signing

TransferAction = Literal["download", "upload"]
ACTIONS: frozenset[str] = frozenset({"download", "upload"})
HEADER = "X-Image-Transfer-Token"
_SALT = "cloud.images.transfer"


def image_transfer_token(*, image_id: str, action: TransferAction, ttl: int = 900) -> str:
    """A token allowing `action` on the data of image `image_id` for `ttl` seconds."""
    if action not in ACTIONS:
        raise ValueError(f"unknown image transfer action {action!r}")
    if ttl <= 0:
        raise ValueError("ttl must be positive")
    payload = {"i": str(image_id), "a": action, "e": int(time.time()) + int(ttl)}
    return signing.dumps(payload, salt=_SALT, compress=False)


def image_transfer_allows(token: str, *, image_id: str, action: TransferAction) -> bool:
    """Whether `token` is a valid, unexpired transfer token for this image and action."""
    try:
        payload = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return False
    if not isinstance(payload, dict):
        return False
    return (
        payload.get("i") == str(image_id)
        and payload.get("a") == action
        and isinstance(payload.get("e"), int)
        and payload["e"] > time.time()
    )


def image_transfer_url(*, image_id: str) -> str:
    """The absolute URL of the image's data, `{IMAGE_API_URL}/v2/images/{id}/file`."""
    return f"{settings.IMAGE_API_URL.rstrip('/')}/v2/images/{image_id}/file"
