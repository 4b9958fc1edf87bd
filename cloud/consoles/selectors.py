"""Reads of the consoles app."""

from django.utils import timezone

from cloud.consoles.models import ConsoleAuthToken
from cloud.consoles.services import token_hash


def console_token_get(*, token: str) -> ConsoleAuthToken | None:
    """The token's grant while it still grants something (unused, unexpired), else None."""
    return ConsoleAuthToken.objects.filter(
        token_hash=token_hash(token), used_at__isnull=True, expires_at__gt=timezone.now()
    ).first()
