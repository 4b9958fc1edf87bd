"""Identity writes: issuing and revoking tokens, seeding users and projects."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone

from cloud.identity.context import RequestContext, expand_roles
from cloud.identity.models import (
    DEFAULT_DOMAIN_ID,
    DEFAULT_DOMAIN_NAME,
    Project,
    Role,
    RoleAssignment,
    Token,
    User,
)
from cloud.identity.selectors import roles_for


class AuthenticationFailed(Exception):
    """Credentials or scope are not acceptable; the message is safe to show."""


@dataclass(frozen=True)
class IssuedToken:
    secret: str
    context: RequestContext
    issued_at: datetime
    expires_at: datetime


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _resolve_domain(domain: dict | None) -> str:
    if not domain:
        return DEFAULT_DOMAIN_ID
    if domain.get("id") in (DEFAULT_DOMAIN_ID,) or domain.get("name") == DEFAULT_DOMAIN_NAME:
        return DEFAULT_DOMAIN_ID
    raise AuthenticationFailed("The request you have made requires authentication.")


def _resolve_project(scope: dict) -> Project:
    project = scope.get("project")
    if not isinstance(project, dict):
        raise AuthenticationFailed("Only project scope is supported.")
    qs = Project.objects.filter(enabled=True)
    if project.get("id"):
        qs = qs.filter(id=project["id"])
    elif project.get("name"):
        qs = qs.filter(name=project["name"], domain_id=_resolve_domain(project.get("domain")))
    else:
        raise AuthenticationFailed("A project scope needs an id, or a name and a domain.")
    found = qs.first()
    if found is None:
        raise AuthenticationFailed("The request you have made requires authentication.")
    return found


def token_issue(
    *,
    username: str | None,
    user_id: str | None,
    domain: dict | None,
    password: str,
    scope: dict | None,
) -> IssuedToken:
    """Check a password and issue a token, scoped to a project when asked."""
    if user_id:
        name = User.objects.filter(id=user_id).values_list("username", flat=True).first()
    else:
        _resolve_domain(domain)
        name = username
    user = authenticate(username=name, password=password) if name else None
    if user is None or not user.is_active:
        raise AuthenticationFailed("The request you have made requires authentication.")

    project = None
    roles: list[str] = []
    if scope:
        project = _resolve_project(scope)
        roles = roles_for(user_id=user.id, project_id=project.id)
        if not roles:
            raise AuthenticationFailed(f"User {user.id} has no access to project {project.id}.")

    issued_at = timezone.now()
    expires_at = issued_at + timedelta(seconds=settings.TOKEN_EXPIRATION_SECONDS)
    secret = secrets.token_urlsafe(32)
    token = Token.objects.create(
        digest=token_digest(secret),
        user=user,
        project=project,
        issued_at=issued_at,
        expires_at=expires_at,
    )
    context = RequestContext(
        user_id=user.id,
        user_name=user.username,
        project_id=project.id if project else None,
        project_name=project.name if project else None,
        roles=roles,
        expires_at=expires_at,
        audit_id=token.audit_id,
    )
    return IssuedToken(secret=secret, context=context, issued_at=issued_at, expires_at=expires_at)


def token_revoke(*, secret: str) -> bool:
    return Token.objects.filter(digest=token_digest(secret)).update(revoked=True) > 0


@transaction.atomic
def project_user_ensure(
    *,
    project_name: str,
    username: str,
    password: str,
    role_name: str,
    is_superuser: bool = False,
) -> tuple[Project, User]:
    """Create (or update) a project and a user holding a role on it."""
    project, _ = Project.objects.get_or_create(name=project_name, domain_id=DEFAULT_DOMAIN_ID)
    user = User.objects.filter(username=username).first() or User(username=username)
    user.set_password(password)
    user.is_staff = user.is_superuser = is_superuser
    user.default_project = project
    user.save()
    for name in expand_roles({role_name}):
        role, _ = Role.objects.get_or_create(name=name)
        RoleAssignment.objects.get_or_create(user=user, project=project, role=role)
    return project, user
