"""Scheduler tables: server groups (os-server-groups) and their members, whose policies
the scheduler keeps when it claims."""

import uuid

from django.db import models

from cloud.jsonfields import ShapedJSONField


class ServerGroupPolicy(models.TextChoices):
    AFFINITY = "affinity"
    ANTI_AFFINITY = "anti-affinity"
    SOFT_AFFINITY = "soft-affinity"
    SOFT_ANTI_AFFINITY = "soft-anti-affinity"


class ServerGroup(models.Model):
    """os-server-groups: instances placed together or apart. Members and their hosts are
    written in the scheduler's claim transaction, under this row's lock."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=255)
    project_id = models.CharField(max_length=64, db_index=True)
    user_id = models.CharField(max_length=64)
    policy = models.CharField(max_length=32, choices=ServerGroupPolicy.choices)
    rules = ShapedJSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class ServerGroupMember(models.Model):
    group = models.ForeignKey(ServerGroup, on_delete=models.CASCADE, related_name="members")
    instance_uuid = models.UUIDField(unique=True)
    host = models.CharField(max_length=255, null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
