"""Volume types and their extra specs, volumes, snapshots, attachments and the volume
backends' reports, shaped like Cinder's tables.

The database holds the attach invariants: a volume is attached at most once to one
instance (a unique constraint on (volume, instance_uuid)); whether a second instance
may attach it is decided by a conditional update of the volume's status
(cloud/volumes/services.py), never by reading and then writing.
"""

import uuid

from django.db import models

from cloud.volumes.choices import AttachmentStatus, AttachMode, SnapshotStatus, VolumeStatus

# Cinder's default volume type, made by the first migration (the one a create with no
# type gets unless VOLUME_DEFAULT_TYPE names another).
DEFAULT_TYPE_NAME = "__DEFAULT__"


class VolumeType(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255, unique=True)
    description = models.CharField(max_length=255, blank=True, default="")
    is_public = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def extra_specs(self) -> dict[str, str]:
        """The extra specs as a dict (from the prefetched rows when the query prefetched them)."""
        return {spec.key: spec.value for spec in self.specs.all()}


class VolumeTypeExtraSpec(models.Model):
    """One extra spec of a volume type (`multiattach`, `volume_backend_name`, ...)."""

    volume_type = models.ForeignKey(VolumeType, on_delete=models.CASCADE, related_name="specs")
    key = models.CharField(max_length=255)
    value = models.CharField(max_length=255)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["volume_type", "key"], name="volume_type_spec_unique")
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class Volume(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    project_id = models.CharField(max_length=64, db_index=True)
    user_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255, blank=True, default="", db_index=True)
    description = models.CharField(max_length=255, blank=True, default="")
    size = models.PositiveIntegerField(help_text="GiB")
    # The size an extend in progress asks for: counted against the gigabytes quota from
    # the request on, so a create meanwhile cannot take what the extend was granted.
    extend_to = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=VolumeStatus, default=VolumeStatus.CREATING, db_index=True
    )
    volume_type = models.ForeignKey(VolumeType, on_delete=models.PROTECT, related_name="volumes")
    availability_zone = models.CharField(max_length=255, default="nova")
    bootable = models.BooleanField(default=False)
    multiattach = models.BooleanField(default=False)
    # Where the data came from (copied at create; the image or snapshot may go later).
    image_id = models.UUIDField(null=True, blank=True)
    snapshot_id = models.UUIDField(null=True, blank=True)
    # Cinder's volume_glance_metadata: what the image said of itself, for booting.
    image_metadata = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # The backend whose volume worker (queue volume.<backend>) owns the data, and
    # where on it the data is (the backend's own locator, e.g. a file path).
    backend = models.CharField(max_length=64, db_index=True)
    provider_location = models.CharField(max_length=1024, blank=True, default="")
    # The last failure, in words a person can act on (Cinder keeps these as user
    # messages); cleared by the next successful step.
    fault = models.CharField(max_length=1024, blank=True, default="")
    # When the current transitional status began (the reaper's deadline counts from it).
    status_changed_at = models.DateTimeField(auto_now_add=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name or self.id} ({self.size} GiB, {self.status})"


class VolumeSnapshot(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    volume = models.ForeignKey(Volume, on_delete=models.PROTECT, related_name="snapshots")
    project_id = models.CharField(max_length=64, db_index=True)
    user_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255, blank=True, default="", db_index=True)
    description = models.CharField(max_length=255, blank=True, default="")
    size = models.PositiveIntegerField(help_text="GiB")
    status = models.CharField(
        max_length=16, choices=SnapshotStatus, default=SnapshotStatus.CREATING, db_index=True
    )
    metadata = models.JSONField(default=dict, blank=True)
    provider_location = models.CharField(max_length=1024, blank=True, default="")
    fault = models.CharField(max_length=1024, blank=True, default="")
    status_changed_at = models.DateTimeField(auto_now_add=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name or self.id} of {self.volume_id} ({self.status})"


class VolumeAttachment(models.Model):
    """A volume attached (or being attached) to an instance on a compute host. Its id is
    the attachment_id Nova shows in os-volume_attachments (2.89)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    volume = models.ForeignKey(Volume, on_delete=models.PROTECT, related_name="attachments")
    instance_uuid = models.UUIDField(db_index=True)
    # The compute host the instance is on when the attach began.
    host = models.CharField(max_length=255, blank=True, default="")
    # The guest device (/dev/vdb), known once the compute connected it.
    device = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=AttachmentStatus, default=AttachmentStatus.ATTACHING
    )
    attach_mode = models.CharField(max_length=2, choices=AttachMode, default=AttachMode.READ_WRITE)
    delete_on_termination = models.BooleanField(default=False)
    # What the volume worker answered initialize_connection with (payloads.VolumeConnection's
    # `connection`): how the compute reaches the data.
    connection_info = models.JSONField(default=dict, blank=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["volume", "instance_uuid"], name="volume_attached_once_per_instance"
            )
        ]

    def __str__(self) -> str:
        return f"{self.volume_id} on {self.instance_uuid} ({self.status})"

    @property
    def attached(self) -> bool:
        return self.status == AttachmentStatus.ATTACHED


class VolumeBackend(models.Model):
    """A volume backend as its worker's heartbeats describe it (Cinder's volume service)."""

    name = models.CharField(max_length=64, unique=True)
    host = models.CharField(max_length=255, blank=True, default="")
    driver = models.CharField(max_length=32, blank=True, default="")
    payload_version = models.CharField(max_length=16, blank=True, default="")
    total_capacity_gb = models.FloatField(default=0)
    free_capacity_gb = models.FloatField(default=0)
    started_at = models.CharField(max_length=64, blank=True, default="")
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.driver} on {self.host})"
