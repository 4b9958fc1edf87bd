"""Writes of the consoles app: the endpoints hosts report, and console tokens issued,
spent (by the proxy), and revoked (when the server goes or moves).

Tokens are random (256 bits), stored as their SHA-256 only, live CONSOLE_TOKEN_TTL
seconds, and let one connection through: the proxy spends a token in the same
transaction that checks it, so two connections racing with one token get one console.
"""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cloud.consoles.choices import CONSOLE_TYPES, ConsoleKind
from cloud.consoles.models import ConsoleAuthToken, ConsoleEndpoint

log = logging.getLogger(__name__)

KINDS = {kind for kind, _ in ConsoleKind.CHOICES}


class ConsoleUnavailable(Exception):
    """The guest has no console of that type where it runs."""


class ConsoleTokenRefused(Exception):
    """The token grants nothing (unknown, revoked, used, expired, or its console moved);
    the message is for the proxy's log, never for the browser."""


@dataclass(frozen=True)
class ConsoleGrant:
    """What a spent token lets through: one connection to host:port."""

    instance_uuid: str
    console_type: str
    kind: str
    host: str
    port: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _endpoints(reported: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """The well-formed endpoints of a host's report (a bad one is logged and dropped)."""
    found = {}
    for kind, endpoint in reported.items():
        host = endpoint.get("host") if isinstance(endpoint, dict) else None
        port = endpoint.get("port") if isinstance(endpoint, dict) else None
        valid_port = isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536
        if kind in KINDS and isinstance(host, str) and host and valid_port:
            found[kind] = (host, port)
        else:
            log.warning("ignoring a malformed %r console endpoint: %r", kind, endpoint)
    return found


def console_endpoints_record(
    *, instance_uuid: str, compute_host: str, endpoints: dict[str, Any] | None
) -> None:
    """What the guest's host read back now: its endpoints replace the ones kept, and the
    tokens for an endpoint that is no longer there are revoked. None (a host that
    reports no consoles, or could not read them) changes nothing."""
    if endpoints is None:
        return
    found = _endpoints(endpoints)
    with transaction.atomic():
        kept = ConsoleEndpoint.objects.select_for_update().filter(instance_uuid=instance_uuid)
        kept.exclude(kind__in=list(found)).delete()
        for kind, (host, port) in found.items():
            ConsoleEndpoint.objects.update_or_create(
                instance_uuid=instance_uuid,
                kind=kind,
                defaults={"compute_host": compute_host, "host": host, "port": port},
            )
        stale = ConsoleAuthToken.objects.filter(instance_uuid=instance_uuid)
        for kind, (host, port) in found.items():
            stale = stale.exclude(kind=kind, compute_host=compute_host, host=host, port=port)
        stale.delete()


def console_endpoints_forget(*, instance_uuid: str) -> None:
    """The server is deleted or moves: its consoles are gone, and every token for them
    is revoked (the new host reports its own when the guest runs there)."""
    with transaction.atomic(savepoint=False):
        ConsoleEndpoint.objects.filter(instance_uuid=instance_uuid).delete()
        ConsoleAuthToken.objects.filter(instance_uuid=instance_uuid).delete()


def console_token_issue(*, instance_uuid: str, compute_host: str, console_type: str) -> str:
    """A new token for the guest's `console_type` console on `compute_host`; the token
    itself is returned once and never stored. ConsoleUnavailable when the guest has no
    such console there."""
    kind = CONSOLE_TYPES.get(console_type)
    endpoint = (
        ConsoleEndpoint.objects.filter(
            instance_uuid=instance_uuid, kind=kind, compute_host=compute_host
        ).first()
        if kind
        else None
    )
    if endpoint is None:
        raise ConsoleUnavailable(console_type)
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    ConsoleAuthToken.objects.create(
        token_hash=token_hash(token),
        instance_uuid=instance_uuid,
        console_type=console_type,
        kind=kind,
        compute_host=compute_host,
        host=endpoint.host,
        port=endpoint.port,
        expires_at=now + timedelta(seconds=settings.CONSOLE_TOKEN_TTL),
    )
    # Spent and expired tokens grant nothing; they are not kept either.
    ConsoleAuthToken.objects.filter(expires_at__lte=now).delete()
    return token


def console_token_spend(*, token: str) -> ConsoleGrant:
    """Check the token and use it up: the grant of one connection, or ConsoleTokenRefused
    saying why not. It is refused when unknown or revoked, already used, expired, or
    when the guest's console no longer is where the token points (the guest restarted
    with other ports, or moved): a token never reaches a port that is not its
    instance's now."""
    now = timezone.now()
    with transaction.atomic():
        row = (
            ConsoleAuthToken.objects.select_for_update()
            .filter(token_hash=token_hash(token))
            .first()
        )
        if row is None:
            raise ConsoleTokenRefused("unknown or revoked token")
        if row.used_at is not None:
            raise ConsoleTokenRefused(f"token for {row.instance_uuid} already used")
        if row.expires_at <= now:
            raise ConsoleTokenRefused(f"token for {row.instance_uuid} expired")
        current = ConsoleEndpoint.objects.filter(
            instance_uuid=row.instance_uuid,
            kind=row.kind,
            compute_host=row.compute_host,
            host=row.host,
            port=row.port,
        ).exists()
        if not current:
            row.delete()
            raise ConsoleTokenRefused(f"the {row.kind} console of {row.instance_uuid} moved")
        row.used_at = now
        row.save(update_fields=["used_at"])
    return ConsoleGrant(
        instance_uuid=str(row.instance_uuid),
        console_type=row.console_type,
        kind=row.kind,
        host=row.host,
        port=row.port,
    )
