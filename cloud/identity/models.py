"""Identity records: users, projects, roles, role assignments and tokens.

Ids are 32-character hex strings as in Keystone. Tokens are stored only as
the SHA-256 of their secret, so a database dump reveals no usable token.
"""

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models

DEFAULT_DOMAIN_ID = "default"
DEFAULT_DOMAIN_NAME = "Default"


def new_id() -> str:
    return uuid.uuid4().hex


class User(AbstractUser):
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    domain_id = models.CharField(max_length=64, default=DEFAULT_DOMAIN_ID)
    default_project = models.ForeignKey(
        "identity.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )


class Project(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    name = models.CharField(max_length=64)
    domain_id = models.CharField(max_length=64, default=DEFAULT_DOMAIN_ID)
    description = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["domain_id", "name"], name="project_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Role(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    name = models.CharField(max_length=255, unique=True)

    def __str__(self) -> str:
        return self.name


class RoleAssignment(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_assignments")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="assignments")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project", "role"], name="assignment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} on {self.project}"


class Token(models.Model):
    digest = models.CharField(primary_key=True, max_length=64)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tokens")
    project = models.ForeignKey(Project, null=True, on_delete=models.CASCADE, related_name="tokens")
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    revoked = models.BooleanField(default=False)
    audit_id = models.CharField(max_length=32, default=new_id)
