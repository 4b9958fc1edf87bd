"""Compute hosts (one row per host: its service and its hypervisor node together) and
host aggregates (os-aggregates): named sets of hosts with metadata, one of
which may name the hosts' availability zone."""

import uuid

from django.db import models

from cloud.jsonfields import ShapedJSONField


class ComputeNode(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    host = models.CharField(max_length=255, unique=True)
    hypervisor_hostname = models.CharField(max_length=255, blank=True, default="")
    hypervisor_type = models.CharField(max_length=64, blank=True, default="")
    hypervisor_version = models.BigIntegerField(default=0)
    libvirt_uri = models.CharField(max_length=255, blank=True, default="")
    vcpus = models.PositiveIntegerField(default=0)
    memory_mb = models.PositiveBigIntegerField(default=0)
    local_gb = models.PositiveBigIntegerField(default=0)
    cpu_info = ShapedJSONField(default=dict, blank=True)
    payload_version = models.CharField(max_length=16, blank=True, default="")
    # The driver's optional features as the host reports them (e.g. supports_snapshot).
    capabilities = ShapedJSONField(default=dict, blank=True)
    availability_zone = models.CharField(max_length=255, default="nova")
    disabled = models.BooleanField(default=False)
    disabled_reason = models.CharField(max_length=255, blank=True, default="")
    forced_down = models.BooleanField(default=False)
    # Builds that failed here since the last one that succeeded (the build-failure weigher).
    failed_builds = models.PositiveIntegerField(default=0)
    # Guests the host's hypervisor has that are no live instance (uuids, as its last
    # power-state report said): shown to admins, never destroyed by the platform.
    unknown_domains = ShapedJSONField(default=list, blank=True)
    # The base images cached on the host, as its last heartbeat said (payload 1.7):
    # [{"image_id", "size", "last_used", "in_use"}]; shown to admins.
    image_cache = ShapedJSONField(default=list, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["host"]

    def __str__(self) -> str:
        return self.host


class Aggregate(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=255, unique=True)
    metadata = ShapedJSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @property
    def availability_zone(self) -> str | None:
        return self.metadata.get("availability_zone")


class AggregateHost(models.Model):
    aggregate = models.ForeignKey(Aggregate, on_delete=models.CASCADE, related_name="hosts")
    host = models.CharField(max_length=255, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["aggregate", "host"], name="aggregate_unique_host")
        ]
