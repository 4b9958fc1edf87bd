"""Placement tables: resource providers, their inventories, and allocations.

Capacity of a resource class on a provider is
(total - reserved) * allocation_ratio; usage is the sum of its allocations.
A claim writes allocations and bumps the provider's generation in one
transaction that holds the provider's row lock.
"""

import uuid

from django.db import models


class ResourceClass(models.TextChoices):
    VCPU = "VCPU"
    MEMORY_MB = "MEMORY_MB"
    DISK_GB = "DISK_GB"


class ResourceProvider(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200, unique=True)
    generation = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Inventory(models.Model):
    provider = models.ForeignKey(
        ResourceProvider, on_delete=models.CASCADE, related_name="inventories"
    )
    resource_class = models.CharField(max_length=255)
    total = models.PositiveBigIntegerField()
    reserved = models.PositiveBigIntegerField(default=0)
    min_unit = models.PositiveBigIntegerField(default=1)
    max_unit = models.PositiveBigIntegerField()
    step_size = models.PositiveBigIntegerField(default=1)
    allocation_ratio = models.FloatField(default=1.0)

    class Meta:
        verbose_name_plural = "inventories"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "resource_class"], name="inventory_unique_class"
            )
        ]

    @property
    def capacity(self) -> int:
        return int((self.total - self.reserved) * self.allocation_ratio)


class Allocation(models.Model):
    provider = models.ForeignKey(
        ResourceProvider, on_delete=models.PROTECT, related_name="allocations"
    )
    consumer_id = models.CharField(max_length=36, db_index=True)
    project_id = models.CharField(max_length=64, blank=True, default="")
    resource_class = models.CharField(max_length=255)
    used = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["provider", "resource_class"])]
        constraints = [
            models.UniqueConstraint(
                fields=["consumer_id", "provider", "resource_class"],
                name="allocation_unique_consumer_class",
            )
        ]
