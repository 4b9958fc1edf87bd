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
    description = models.TextField(blank=True, default="")


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
    description = models.TextField(blank=True, default="")

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
    # The authentication methods behind the token, comma-separated ("token,password"
    # for a token re-scoped from a password token), as Keystone reports them.
    methods = models.CharField(max_length=64, default="password")


class Domain(models.Model):
    """A namespace for projects and users; `default` always exists."""

    id = models.CharField(primary_key=True, max_length=64, default=new_id, editable=False)
    name = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class KeyPair(models.Model):
    """An SSH public key (or x509 certificate) a user can give to their servers by name."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="keypairs")
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=8, default="ssh")
    public_key = models.TextField()
    fingerprint = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="keypair_unique_name")]

    def __str__(self) -> str:
        return self.name


class Quota(models.Model):
    """A limit set by an admin for a project, or for one user within it.

    Resources without a row use the defaults in settings (QUOTA_DEFAULTS);
    -1 means unlimited. Usage is never stored: it is counted from real rows.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="quotas")
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="quotas"
    )
    resource = models.CharField(max_length=64)
    hard_limit = models.IntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "resource"],
                condition=models.Q(user__isnull=True),
                name="quota_unique_project",
            ),
            models.UniqueConstraint(
                fields=["project", "user", "resource"],
                condition=models.Q(user__isnull=False),
                name="quota_unique_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource}={self.hard_limit}"
