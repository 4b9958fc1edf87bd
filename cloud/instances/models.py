"""Flavors (API level) and instances with their actions, events and faults (cell level).

Instances copy their flavor (its extra specs included) and image metadata at create
time, as Nova does: a flavor or image changed or deleted later does not change running
servers, and cell-level rows hold no foreign key to API-level ones. A flavor's extra
specs and the projects a private flavor is shared with are rows of their own (Nova's
flavor_extra_specs and flavor_projects), deleted with the flavor.
"""

import uuid

from django.conf import settings
from django.db import models

from cloud.instances.choices import MigrationStatus
from cloud.instances.states import VmState
from cloud.jsonfields import ShapedJSONField
from cloud.power_state import PowerState


class Flavor(models.Model):
    flavorid = models.CharField(max_length=255, unique=True)
    name = models.CharField(max_length=255, unique=True)
    memory_mb = models.PositiveIntegerField()
    vcpus = models.PositiveIntegerField()
    root_gb = models.PositiveIntegerField(default=0)
    ephemeral_gb = models.PositiveIntegerField(default=0)
    swap = models.PositiveIntegerField(default=0)
    rxtx_factor = models.FloatField(default=1.0)
    is_public = models.BooleanField(default=True)
    disabled = models.BooleanField(default=False)
    description = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["flavorid"]

    def __str__(self) -> str:
        return self.name

    @property
    def extra_specs(self) -> dict[str, str]:
        """The extra specs as a dict (from the prefetched rows when the query prefetched them)."""
        return {spec.key: spec.value for spec in self.specs.all()}

    def snapshot(self) -> dict:
        """What an instance keeps of its flavor."""
        return {
            "flavorid": self.flavorid,
            "name": self.name,
            "memory_mb": self.memory_mb,
            "vcpus": self.vcpus,
            "root_gb": self.root_gb,
            "ephemeral_gb": self.ephemeral_gb,
            "swap": self.swap,
            "rxtx_factor": self.rxtx_factor,
            "extra_specs": self.extra_specs,
        }


class FlavorExtraSpec(models.Model):
    """One extra spec of a flavor: a key (Nova's pattern) and its value, as strings."""

    flavor = models.ForeignKey(Flavor, on_delete=models.CASCADE, related_name="specs")
    key = models.CharField(max_length=255)
    value = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["flavor", "key"], name="flavor_extra_spec_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class FlavorAccess(models.Model):
    """A project that may see and use a private flavor."""

    flavor = models.ForeignKey(Flavor, on_delete=models.CASCADE, related_name="access")
    project_id = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "flavor access"
        constraints = [
            models.UniqueConstraint(
                fields=["flavor", "project_id"], name="flavor_access_unique_project"
            )
        ]

    def __str__(self) -> str:
        return f"{self.flavor_id} -> {self.project_id}"


class Instance(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    display_name = models.CharField(max_length=255)
    display_description = models.CharField(max_length=255, null=True, blank=True)
    hostname = models.CharField(max_length=255, blank=True, default="")
    project_id = models.CharField(max_length=64, db_index=True)
    user_id = models.CharField(max_length=64)
    reservation_id = models.CharField(max_length=32, blank=True, default="")
    launch_index = models.PositiveIntegerField(default=0)

    flavor = ShapedJSONField()
    # The flavor's size in columns, so quota usage is a SQL sum over real rows.
    vcpus = models.PositiveIntegerField(default=0)
    memory_mb = models.PositiveIntegerField(default=0)
    image_ref = models.CharField(max_length=64, blank=True, default="")
    image_meta = ShapedJSONField(default=dict, blank=True)
    key_name = models.CharField(max_length=255, null=True, blank=True)
    key_data = models.TextField(null=True, blank=True)
    user_data = models.TextField(null=True, blank=True)
    metadata = ShapedJSONField(default=dict, blank=True)
    config_drive = models.BooleanField(default=False)
    availability_zone = models.CharField(max_length=255, null=True, blank=True)
    access_ip_v4 = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True)
    access_ip_v6 = models.GenericIPAddressField(protocol="IPv6", null=True, blank=True)

    vm_state = models.CharField(max_length=32, default=VmState.BUILDING, db_index=True)
    task_state = models.CharField(max_length=32, null=True, blank=True)
    power_state = models.PositiveSmallIntegerField(default=PowerState.NOSTATE)
    progress = models.PositiveSmallIntegerField(default=0)
    host = models.CharField(max_length=255, null=True, blank=True, db_index=True)
    node = models.CharField(max_length=255, null=True, blank=True)
    # Nova's lock: a flag, not a state. `locked_by` is "owner" or "admin";
    # an admin's lock only an admin may lift.
    locked = models.BooleanField(default=False)
    locked_by = models.CharField(max_length=16, null=True, blank=True)
    locked_reason = models.CharField(max_length=255, null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    deleted = models.BooleanField(default=False, db_index=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project_id", "deleted", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.uuid})"

    @property
    def domain_name(self) -> str:
        """The hypervisor-side name: INSTANCE_NAME_TEMPLATE (Nova's `instance-%08x`)."""
        return settings.INSTANCE_NAME_TEMPLATE % self.id


class InstanceAction(models.Model):
    instance_uuid = models.UUIDField(db_index=True)
    action = models.CharField(max_length=255)
    request_id = models.CharField(max_length=255, db_index=True)
    user_id = models.CharField(max_length=64, blank=True, default="")
    project_id = models.CharField(max_length=64, blank=True, default="")
    start_time = models.DateTimeField()
    finish_time = models.DateTimeField(null=True, blank=True)
    message = models.CharField(max_length=255, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start_time", "-id"]


class InstanceActionEvent(models.Model):
    action = models.ForeignKey(InstanceAction, on_delete=models.CASCADE, related_name="events")
    event = models.CharField(max_length=255)
    start_time = models.DateTimeField()
    finish_time = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=255, null=True, blank=True)
    traceback = models.TextField(null=True, blank=True)
    host = models.CharField(max_length=255, null=True, blank=True)
    details = models.TextField(null=True, blank=True)

    class Meta:
        ordering = ["start_time", "id"]


class InstanceFault(models.Model):
    instance_uuid = models.UUIDField(db_index=True)
    code = models.PositiveSmallIntegerField()
    message = models.CharField(max_length=255)
    details = models.TextField(blank=True, default="")
    host = models.CharField(max_length=255, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class RequestSpec(models.Model):
    """What the scheduler must satisfy for one instance (API level, as in Nova)."""

    instance_uuid = models.UUIDField(unique=True)
    project_id = models.CharField(max_length=64)
    resources = ShapedJSONField()
    availability_zone = models.CharField(max_length=255, null=True, blank=True)
    user_id = models.CharField(max_length=64, blank=True, default="")
    # An admin's `zone:host`; the server group; same_host / different_host / query hints.
    forced_host = models.CharField(max_length=255, null=True, blank=True)
    group_uuid = models.UUIDField(null=True, blank=True)
    hints = ShapedJSONField(default=dict, blank=True)
    ignore_hosts = ShapedJSONField(default=list, blank=True, items=str)
    # Hosts the scheduler ranked next: where a failed build is retried first.
    alternates = ShapedJSONField(default=list, blank=True)
    num_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class Migration(models.Model):
    """One move of an instance between hosts (cell level, as in Nova). While a resize is
    unconfirmed, the migration's uuid is the placement consumer holding the source
    host's allocation, and the instance holds the new flavor on the destination."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    instance_uuid = models.UUIDField(db_index=True)
    project_id = models.CharField(max_length=64, blank=True, default="")
    user_id = models.CharField(max_length=64, blank=True, default="")
    migration_type = models.CharField(max_length=16, default="resize")
    status = models.CharField(
        max_length=16, choices=MigrationStatus.choices, default=MigrationStatus.PRE_MIGRATING
    )
    source_compute = models.CharField(max_length=255)
    source_node = models.CharField(max_length=255)
    dest_compute = models.CharField(max_length=255, null=True, blank=True)
    dest_node = models.CharField(max_length=255, null=True, blank=True)
    old_flavor = ShapedJSONField()
    new_flavor = ShapedJSONField()
    # The vm_state to come back to (active or stopped): whether the guest runs afterwards.
    old_vm_state = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.migration_type} {self.uuid} of {self.instance_uuid} ({self.status})"
