"""Migration status values (Nova's), for the instances app and its callers."""

from django.db import models


class MigrationStatus(models.TextChoices):
    """Nova's migration statuses, in the order a resize goes through them."""

    PRE_MIGRATING = "pre-migrating"
    MIGRATING = "migrating"
    FINISHED = "finished"
    CONFIRMING = "confirming"
    CONFIRMED = "confirmed"
    REVERTING = "reverting"
    REVERTED = "reverted"
    ERROR = "error"
