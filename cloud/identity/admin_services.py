"""Identity administration writes: domains, projects, users, roles and grants.

Each write is one transaction. Taking access away (disabling a user, project or
domain, changing a password, removing a user's last role on a project) revokes
the tokens it made useless, as Keystone does; token validation re-checks the
same facts on every request anyway, so nothing depends on the revocation alone.
"""

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model

from cloud.api.errors import BadRequest, Conflict, Forbidden
from cloud.identity import cache as identity_cache
from cloud.identity.admin_selectors import role_is_immutable
from cloud.identity.models import (
    DEFAULT_DOMAIN_ID,
    Domain,
    Project,
    Role,
    RoleAssignment,
    Token,
    User,
)


def _save(instance: Model, conflict: str) -> None:
    """Save, answering 409 when a unique constraint says the name is taken."""
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as exc:
        raise Conflict(f"Conflict occurred attempting to store {conflict}.") from exc


def _duplicate(kind: str, name: str, domain_id: str | None = None) -> str:
    where = f" at domain ID {domain_id}" if domain_id else ""
    return f"{kind} - Duplicate entry found with name {name}{where}"


def _existing_domain(domain_id: str) -> None:
    if not Domain.objects.filter(id=domain_id).exists():
        raise BadRequest(f"Could not find domain: {domain_id}.")


def _existing_project(project_id: str | None) -> None:
    if project_id is not None and not Project.objects.filter(id=project_id).exists():
        raise BadRequest(f"Could not find project: {project_id}.")


def _same_domain(instance: Model, changes: dict[str, Any]) -> None:
    """An entity stays in the domain it was made in."""
    if changes.get("domain_id", instance.domain_id) != instance.domain_id:
        raise BadRequest("Update of `domain_id` is not allowed.")


def _apply(instance: Model, changes: dict[str, Any], fields: dict[str, str]) -> None:
    """Copy the API's attribute names (keys of `fields`) onto the model's fields."""
    for key, field in fields.items():
        if key in changes:
            setattr(instance, field, changes[key])


def _revoke_tokens(**filters) -> None:
    if Token.objects.filter(revoked=False, **filters).update(revoked=True):
        identity_cache.invalidate()


# --- domains -----------------------------------------------------------------

DOMAIN_FIELDS = {"name": "name", "description": "description", "enabled": "enabled"}


@transaction.atomic
def domain_create(*, name: str, description: str = "", enabled: bool = True) -> Domain:
    domain = Domain(name=name, description=description, enabled=enabled)
    _save(domain, _duplicate("domain", name))
    return domain


@transaction.atomic
def domain_update(*, domain: Domain, changes: dict[str, Any]) -> Domain:
    if domain.id == DEFAULT_DOMAIN_ID and changes.get("enabled") is False:
        raise Forbidden("The default domain cannot be disabled.")
    disabling = domain.enabled and changes.get("enabled") is False
    _apply(domain, changes, DOMAIN_FIELDS)
    _save(domain, _duplicate("domain", domain.name))
    if disabling:
        _revoke_tokens(user__domain_id=domain.id)
        _revoke_tokens(project__domain_id=domain.id)
    return domain


@transaction.atomic
def domain_delete(*, domain: Domain) -> None:
    """Delete a disabled domain with the users and projects in it."""
    if domain.id == DEFAULT_DOMAIN_ID:
        raise Forbidden("The default domain cannot be deleted.")
    if domain.enabled:
        raise Forbidden("Cannot delete a domain that is enabled, please disable it first.")
    User.objects.filter(domain_id=domain.id).delete()
    Project.objects.filter(domain_id=domain.id).delete()
    domain.delete()


# --- projects ----------------------------------------------------------------

PROJECT_FIELDS = {"name": "name", "description": "description", "enabled": "enabled"}


@transaction.atomic
def project_create(
    *, name: str, domain_id: str = DEFAULT_DOMAIN_ID, description: str = "", enabled: bool = True
) -> Project:
    _existing_domain(domain_id)
    project = Project(name=name, domain_id=domain_id, description=description, enabled=enabled)
    _save(project, _duplicate("project", name, domain_id))
    return project


@transaction.atomic
def project_update(*, project: Project, changes: dict[str, Any]) -> Project:
    _same_domain(project, changes)
    disabling = project.enabled and changes.get("enabled") is False
    _apply(project, changes, PROJECT_FIELDS)
    _save(project, _duplicate("project", project.name, project.domain_id))
    if disabling:
        _revoke_tokens(project=project)
    return project


@transaction.atomic
def project_delete(*, project: Project) -> None:
    """Delete a project with its role assignments, tokens and quotas."""
    project.delete()


# --- users -------------------------------------------------------------------

USER_FIELDS = {
    "name": "username",
    "email": "email",
    "description": "description",
    "enabled": "is_active",
    "default_project_id": "default_project_id",
}


def _set_password(user: User, password: str | None) -> None:
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)


@transaction.atomic
def user_create(
    *,
    name: str,
    domain_id: str = DEFAULT_DOMAIN_ID,
    password: str | None = None,
    email: str = "",
    description: str = "",
    enabled: bool = True,
    default_project_id: str | None = None,
) -> User:
    _existing_domain(domain_id)
    _existing_project(default_project_id)
    user = User(
        username=name,
        domain_id=domain_id,
        email=email,
        description=description,
        is_active=enabled,
        default_project_id=default_project_id,
    )
    _set_password(user, password)
    _save(user, _duplicate("user", name, domain_id))
    return user


@transaction.atomic
def user_update(*, user: User, changes: dict[str, Any]) -> User:
    """Update a user; disabling them or setting a password revokes their tokens."""
    _same_domain(user, changes)
    _existing_project(changes.get("default_project_id"))
    disabling = user.is_active and changes.get("enabled") is False
    _apply(user, changes, USER_FIELDS)
    if "password" in changes:
        _set_password(user, changes["password"])
    _save(user, _duplicate("user", user.username, user.domain_id))
    if disabling or "password" in changes:
        _revoke_tokens(user=user)
    return user


@transaction.atomic
def user_delete(*, user: User) -> None:
    """Delete a user with their role assignments, tokens, key pairs and quotas."""
    user.delete()


# --- roles -------------------------------------------------------------------

ROLE_FIELDS = {"name": "name", "description": "description"}


@transaction.atomic
def role_create(*, name: str, description: str = "") -> Role:
    role = Role(name=name, description=description)
    _save(role, _duplicate("role", name))
    return role


@transaction.atomic
def role_update(*, role: Role, changes: dict[str, Any]) -> Role:
    if role_is_immutable(role) and changes.get("name", role.name) != role.name:
        raise Forbidden(f"Unable to update immutable role resource: `{role.id}`.")
    _apply(role, changes, ROLE_FIELDS)
    _save(role, _duplicate("role", role.name))
    return role


@transaction.atomic
def role_delete(*, role: Role) -> None:
    if role_is_immutable(role):
        raise Forbidden(f"Unable to delete immutable role resource: `{role.id}`.")
    role.delete()


# --- grants ------------------------------------------------------------------


@transaction.atomic
def grant_create(*, user: User, project: Project, role: Role) -> None:
    """Give a user a role on a project (again: no change)."""
    RoleAssignment.objects.get_or_create(user=user, project=project, role=role)


@transaction.atomic
def grant_revoke(*, user: User, project: Project, role: Role) -> bool:
    """Take a role on a project from a user; False when they did not hold it.

    Without any role left on the project, their tokens scoped to it are revoked.
    """
    deleted, _ = RoleAssignment.objects.filter(user=user, project=project, role=role).delete()
    if deleted and not RoleAssignment.objects.filter(user=user, project=project).exists():
        _revoke_tokens(user=user, project=project)
    return bool(deleted)
