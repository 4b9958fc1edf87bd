"""Image status and visibility values (Glance's), for the images app and its callers."""

from django.db import models


class ImageStatus(models.TextChoices):
    QUEUED = "queued"
    SAVING = "saving"
    ACTIVE = "active"
    KILLED = "killed"
    DELETED = "deleted"
    DEACTIVATED = "deactivated"


class Visibility(models.TextChoices):
    PUBLIC = "public"
    PRIVATE = "private"
    SHARED = "shared"
    COMMUNITY = "community"


class MemberStatus(models.TextChoices):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
