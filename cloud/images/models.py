"""Image records, shaped like Glance v2 images."""

import uuid

from django.db import models

from cloud.images.choices import ImageStatus, Visibility


class Image(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255, db_index=True)
    status = models.CharField(max_length=16, choices=ImageStatus, default=ImageStatus.QUEUED)
    visibility = models.CharField(max_length=16, choices=Visibility, default=Visibility.SHARED)
    owner = models.CharField(max_length=64, blank=True, default="", db_index=True)
    disk_format = models.CharField(max_length=16, blank=True, default="")
    container_format = models.CharField(max_length=16, blank=True, default="")
    size = models.BigIntegerField(null=True, blank=True)
    virtual_size = models.BigIntegerField(null=True, blank=True)
    checksum = models.CharField(max_length=32, blank=True, default="")
    os_hash_algo = models.CharField(max_length=64, blank=True, default="")
    os_hash_value = models.CharField(max_length=128, blank=True, default="")
    min_disk = models.PositiveIntegerField(default=0)
    min_ram = models.PositiveIntegerField(default=0)
    protected = models.BooleanField(default=False)
    properties = models.JSONField(default=dict, blank=True)
    # Glance's locations: where the image's data is, as [{"url": ..., "metadata": {}}].
    # A file:// URL is a path every compute host can read (images registered on
    # the host itself, e.g. the guest kernel and ramdisk of `register_guest_image`).
    locations = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return self.name
