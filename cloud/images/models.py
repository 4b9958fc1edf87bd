"""Image records, shaped like Glance v2 images."""

import uuid

from django.db import models

from cloud.images.choices import ImageStatus, MemberStatus, Visibility
from cloud.jsonfields import ShapedJSONField


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
    os_hidden = models.BooleanField(default=False)
    tags = ShapedJSONField(default=list, blank=True, items=str)
    properties = ShapedJSONField(default=dict, blank=True)
    # Glance's locations: where the image's data is, as [{"url": ..., "metadata": {}}].
    # A file:// URL is a path every compute host can read (images registered on
    # the host itself, e.g. the guest kernel and ramdisk of `register_guest_image`).
    locations = ShapedJSONField(default=list, blank=True, items=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return self.name


class ImageMember(models.Model):
    """A project an owner shared a `shared` image with, and that project's answer."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="members")
    member = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=MemberStatus, default=MemberStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["image", "member"], name="image_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.member} ({self.status})"
