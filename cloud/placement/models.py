"""Placement tables: resource providers, their inventories, traits and aggregates;
consumers and their allocations.

Capacity of a resource class on a provider is (total - reserved) *
allocation_ratio, kept in `Inventory.capacity`; `Inventory.used` is the sum
of the allocations against it, kept in step by the same transaction that
writes them (cloud.placement.claims), so a claim is one conditional
UPDATE per class ("used + amount <= capacity") and the candidate query is
an index scan on free capacity, not an aggregate over every allocation.
"""

import uuid

from django.db import models
from django.db.models import F, Q


class ResourceClass(models.TextChoices):
    VCPU = "VCPU"
    MEMORY_MB = "MEMORY_MB"
    DISK_GB = "DISK_GB"


class Trait(models.Model):
    """A qualitative property of a provider: standard (HW_*, COMPUTE_*, ...) or CUSTOM_*."""

    name = models.CharField(max_length=255, unique=True)

    def __str__(self) -> str:
        return self.name


class CustomResourceClass(models.Model):
    """A CUSTOM_* resource class created through the placement API."""

    name = models.CharField(max_length=255, unique=True)

    def __str__(self) -> str:
        return self.name


class ResourceProvider(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200, unique=True)
    generation = models.PositiveBigIntegerField(default=0)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    traits = models.ManyToManyField(Trait, blank=True, related_name="providers")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class ProviderAggregate(models.Model):
    """Membership of a provider in a placement aggregate (a UUID, nothing more)."""

    provider = models.ForeignKey(
        ResourceProvider, on_delete=models.CASCADE, related_name="aggregates"
    )
    aggregate = models.UUIDField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "aggregate"], name="provider_aggregate")
        ]


class Inventory(models.Model):
    # Every claim rewrites inventory rows (and, `used` being indexed, every index on
    # them): no index beyond those the queries use; the unique (provider, class) one
    # serves lookups by provider.
    provider = models.ForeignKey(
        ResourceProvider, on_delete=models.CASCADE, related_name="inventories", db_index=False
    )
    resource_class = models.CharField(max_length=255)
    total = models.PositiveBigIntegerField()
    reserved = models.PositiveBigIntegerField(default=0)
    min_unit = models.PositiveBigIntegerField(default=1)
    max_unit = models.PositiveBigIntegerField()
    step_size = models.PositiveBigIntegerField(default=1)
    allocation_ratio = models.FloatField(default=1.0)
    # Derived, kept in step by cloud.placement.claims: see the module docstring.
    capacity = models.BigIntegerField(default=0)
    used = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "inventories"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "resource_class"], name="inventory_unique_class"
            ),
            models.CheckConstraint(condition=Q(used__gte=0), name="inventory_used_not_negative"),
        ]
        indexes = [
            models.Index(F("resource_class"), F("capacity") - F("used"), name="inventory_free"),
        ]

    @staticmethod
    def capacity_of(total: int, reserved: int, allocation_ratio: float) -> int:
        return int((total - reserved) * allocation_ratio)

    @property
    def free(self) -> int:
        return self.capacity - self.used


class Consumer(models.Model):
    """Who holds allocations (an instance, later a migration), with a generation that
    lets placement API clients update them without losing a concurrent change."""

    uuid = models.CharField(primary_key=True, max_length=36)
    project_id = models.CharField(max_length=64, blank=True, default="")
    user_id = models.CharField(max_length=64, blank=True, default="")
    generation = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class Allocation(models.Model):
    # Written three rows a claim: lookups by consumer use the unique (consumer, provider,
    # class) index, by provider the (provider, class) one; no other index.
    provider = models.ForeignKey(
        ResourceProvider, on_delete=models.PROTECT, related_name="allocations", db_index=False
    )
    consumer_id = models.CharField(max_length=36)
    project_id = models.CharField(max_length=64, blank=True, default="")
    resource_class = models.CharField(max_length=255)
    used = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["provider", "resource_class"], name="allocation_provider_class")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["consumer_id", "provider", "resource_class"],
                name="allocation_unique_consumer_class",
            )
        ]
