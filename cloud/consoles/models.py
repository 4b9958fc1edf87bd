"""Where guests' remote consoles listen, and the tokens that grant a connection to one.

A token is stored only as its SHA-256: the database never holds one a thief could use.
It is bound to one instance and the host address and port its console had when the
token was issued; the proxy relays to that address and nowhere else.
"""

from django.db import models

from cloud.consoles.choices import ConsoleKind


class ConsoleEndpoint(models.Model):
    """One console of a running guest, as its compute host read it back from libvirt."""

    instance_uuid = models.UUIDField(db_index=True)
    kind = models.CharField(max_length=16, choices=ConsoleKind.CHOICES)
    # The compute host the guest runs on, and the address and port the console listens on.
    compute_host = models.CharField(max_length=255)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instance_uuid", "kind"], name="console_endpoint_one_per_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.instance_uuid} at {self.host}:{self.port}"


class ConsoleAuthToken(models.Model):
    """A single-use, short-lived grant of one console connection."""

    token_hash = models.CharField(max_length=64, unique=True)
    instance_uuid = models.UUIDField(db_index=True)
    console_type = models.CharField(max_length=32)
    kind = models.CharField(max_length=16, choices=ConsoleKind.CHOICES)
    compute_host = models.CharField(max_length=255)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    # Set when the proxy let a connection through with it: it grants no second one.
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.console_type} token for {self.instance_uuid}"
