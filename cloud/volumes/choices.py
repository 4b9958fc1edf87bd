"""The volumes app's status values, as Cinder spells them."""

from django.db import models


class VolumeStatus(models.TextChoices):
    CREATING = "creating"
    AVAILABLE = "available"
    RESERVED = "reserved"
    ATTACHING = "attaching"
    IN_USE = "in-use"
    DETACHING = "detaching"
    DELETING = "deleting"
    EXTENDING = "extending"
    ERROR = "error"
    ERROR_DELETING = "error_deleting"
    ERROR_EXTENDING = "error_extending"
    MAINTENANCE = "maintenance"


class SnapshotStatus(models.TextChoices):
    CREATING = "creating"
    AVAILABLE = "available"
    DELETING = "deleting"
    ERROR = "error"
    ERROR_DELETING = "error_deleting"


class AttachmentStatus(models.TextChoices):
    ATTACHING = "attaching"
    ATTACHED = "attached"
    DETACHING = "detaching"


class AttachMode(models.TextChoices):
    READ_WRITE = "rw"
    READ_ONLY = "ro"


# Statuses an admin may set with os-reset_status (Cinder's list, minus the backup ones).
RESETTABLE = frozenset(
    {
        VolumeStatus.CREATING,
        VolumeStatus.AVAILABLE,
        VolumeStatus.RESERVED,
        VolumeStatus.ATTACHING,
        VolumeStatus.IN_USE,
        VolumeStatus.DETACHING,
        VolumeStatus.DELETING,
        VolumeStatus.EXTENDING,
        VolumeStatus.ERROR,
        VolumeStatus.ERROR_DELETING,
        VolumeStatus.ERROR_EXTENDING,
        VolumeStatus.MAINTENANCE,
    }
)
