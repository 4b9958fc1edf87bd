"""Identity writes: issuing, re-scoping and revoking tokens, seeding users and projects."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone

from cloud.identity import cache as identity_cache
from cloud.identity.context import RequestContext, expand_roles
from cloud.identity.models import (
    DEFAULT_DOMAIN_ID,
    DEFAULT_DOMAIN_NAME,
    Domain,
    Project,
    Role,
    RoleAssignment,
    Token,
    User,
)
from cloud.identity.selectors import roles_for, token_validate

UNAUTHENTICATED = "The request you have made requires authentication."


class AuthenticationFailed(Exception):
    """Credentials or scope are not acceptable; the message is safe to show."""


@dataclass(frozen=True)
class IssuedToken:
    secret: str
    token: Token
    context: RequestContext

    @property
    def methods(self) -> list[str]:
        return self.token.methods.split(",")


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _domain_id(ref) -> str:
    """The id of the enabled domain named by `{"id": ...}` or `{"name": ...}` (default: Default)."""
    if not ref:
        return DEFAULT_DOMAIN_ID
    if not isinstance(ref, dict):
        raise AuthenticationFailed(UNAUTHENTICATED)
    domains = Domain.objects.filter(enabled=True)
    if ref.get("id"):
        domains = domains.filter(id=ref["id"])
    elif ref.get("name"):
        domains = domains.filter(name=ref["name"])
    else:
        raise AuthenticationFailed("A domain needs an id or a name.")
    found = domains.values_list("id", flat=True).first()
    if found is None:
        raise AuthenticationFailed(UNAUTHENTICATED)
    return found


def _resolve_project(scope) -> Project | None:
    """The project a scope names; None for an unscoped token (no scope, or "unscoped")."""
    if scope is None or scope == "unscoped":
        return None
    project = scope.get("project") if isinstance(scope, dict) else None
    if not isinstance(project, dict):
        raise AuthenticationFailed("Only project scope is supported.")
    projects = Project.objects.filter(enabled=True)
    if project.get("id"):
        projects = projects.filter(id=project["id"])
    elif project.get("name"):
        domain_id = _domain_id(project.get("domain"))
        projects = projects.filter(name=project["name"], domain_id=domain_id)
    else:
        raise AuthenticationFailed("A project scope needs an id, or a name and a domain.")
    found = projects.first()
    if found is None or Domain.objects.filter(id=found.domain_id, enabled=False).exists():
        raise AuthenticationFailed(UNAUTHENTICATED)
    return found


def _issue(
    *, user: User, scope, methods: list[str], expires_at: datetime | None = None
) -> IssuedToken:
    project = _resolve_project(scope)
    roles: list[str] = []
    if project is not None:
        roles = roles_for(user_id=user.id, project_id=project.id)
        if not roles:
            raise AuthenticationFailed(f"User {user.id} has no access to project {project.id}.")
    issued_at = timezone.now()
    secret = secrets.token_urlsafe(32)
    token = Token.objects.create(
        digest=token_digest(secret),
        user=user,
        project=project,
        issued_at=issued_at,
        expires_at=expires_at or issued_at + timedelta(seconds=settings.TOKEN_EXPIRATION_SECONDS),
        methods=",".join(methods),
    )
    context = RequestContext(
        user_id=user.id,
        user_name=user.username,
        project_id=project.id if project else None,
        project_name=project.name if project else None,
        roles=roles,
        expires_at=token.expires_at,
        audit_id=token.audit_id,
    )
    return IssuedToken(secret=secret, token=token, context=context)


def token_issue(
    *,
    username: str | None,
    user_id: str | None,
    domain: dict | None,
    password: str,
    scope: dict | str | None,
) -> IssuedToken:
    """Check a password and issue a token, scoped to a project when asked."""
    users = User.objects.all()
    if user_id:
        users = users.filter(id=user_id)
    elif username:
        users = users.filter(username=username, domain_id=_domain_id(domain))
    else:
        raise AuthenticationFailed("A user needs an id, or a name and a domain.")
    name = users.values_list("username", flat=True).first()
    user = authenticate(username=name, password=password) if name else None
    if (
        user is None
        or not user.is_active
        or Domain.objects.filter(id=user.domain_id, enabled=False).exists()
    ):
        raise AuthenticationFailed(UNAUTHENTICATED)
    return _issue(user=user, scope=scope, methods=["password"])


def token_rescope(*, secret: str, scope: dict | str | None) -> IssuedToken:
    """Exchange a valid token for a new one with another scope, expiring no later."""
    found = token_validate(digest=token_digest(secret))
    if found is None:
        raise AuthenticationFailed(UNAUTHENTICATED)
    methods = ["token", *(m for m in found.methods if m != "token")]
    return _issue(
        user=found.token.user, scope=scope, methods=methods, expires_at=found.token.expires_at
    )


def token_revoke(*, secret: str) -> bool:
    revoked = Token.objects.filter(digest=token_digest(secret)).update(revoked=True) > 0
    if revoked:
        identity_cache.invalidate()
    return revoked


@transaction.atomic
def project_user_ensure(
    *,
    project_name: str,
    username: str,
    password: str,
    role_name: str,
    is_superuser: bool = False,
) -> tuple[Project, User]:
    """Create (or update) a project and a user holding a role on it, in the default domain."""
    Domain.objects.get_or_create(id=DEFAULT_DOMAIN_ID, defaults={"name": DEFAULT_DOMAIN_NAME})
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
