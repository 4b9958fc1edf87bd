"""Identity reads: role lookups and token validation."""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef
from django.utils import timezone

from cloud.identity import cache as identity_cache
from cloud.identity.context import RequestContext, expand_roles
from cloud.identity.models import Domain, RoleAssignment, Token


@dataclass(frozen=True)
class ValidToken:
    token: Token
    context: RequestContext

    @property
    def methods(self) -> list[str]:
        return self.token.methods.split(",")


def roles_for(*, user_id: str, project_id: str) -> list[str]:
    names = RoleAssignment.objects.filter(user_id=user_id, project_id=project_id).values_list(
        "role__name", flat=True
    )
    return expand_roles(set(names))


def _in_disabled_domain(field: str) -> Exists:
    return Exists(Domain.objects.filter(enabled=False, id=OuterRef(field)))


def token_validate(*, digest: str) -> ValidToken | None:
    """A token that is usable now, with its context.

    Checked in the database at its first use in this process and again after any
    identity write (cloud.identity.cache), so a change takes effect on the next
    request: not expired, not revoked, the user active, the project enabled, neither
    of their domains disabled, and (when scoped) some role left on the project.
    """
    return identity_cache.remembered(
        ("token", digest), lambda: _token_checked(digest), usable=_unexpired
    )


def _unexpired(found: ValidToken) -> bool:
    return found.token.expires_at > timezone.now()


def _token_checked(digest: str) -> ValidToken | None:
    token = (
        Token.objects.select_related("user", "project")
        .filter(digest=digest, revoked=False, expires_at__gt=timezone.now())
        .exclude(_in_disabled_domain("user__domain_id"))
        .exclude(_in_disabled_domain("project__domain_id"))
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    project = token.project
    if project is not None and not project.enabled:
        return None
    roles = roles_for(user_id=token.user_id, project_id=project.id) if project else []
    if project is not None and not roles:
        return None
    context = RequestContext(
        user_id=token.user_id,
        user_name=token.user.username,
        project_id=project.id if project else None,
        project_name=project.name if project else None,
        roles=roles,
        expires_at=token.expires_at,
        audit_id=token.audit_id,
    )
    return ValidToken(token=token, context=context)


def token_context(*, digest: str) -> RequestContext | None:
    """The context of a valid token (see token_validate), else None."""
    found = token_validate(digest=digest)
    return found.context if found else None


def session_context(*, user) -> RequestContext | None:
    """Context for a browser session: the user's default (or first) project."""
    project = user.default_project
    if project is None:
        assignment = RoleAssignment.objects.select_related("project").filter(user=user).first()
        project = assignment.project if assignment else None
    if project is None or not project.enabled:
        return None
    roles = roles_for(user_id=user.id, project_id=project.id)
    if not roles:
        return None
    return RequestContext(
        user_id=user.id,
        user_name=user.username,
        project_id=project.id,
        project_name=project.name,
        roles=roles,
    )
