"""Keystone v3 JSON shapes of identity entities, each with its `links.self`, and of tokens."""

from datetime import datetime

from cloud.identity import cache as identity_cache
from cloud.identity.admin_selectors import Assignment, domain_names, role_ids, role_is_immutable
from cloud.identity.catalog import service_catalog
from cloud.identity.context import RequestContext
from cloud.identity.models import Domain, Project, Role, Token, User


def url(base: str, *parts: str) -> str:
    return "/".join((f"{base}/identity/v3", *parts))


def domain_shape(base: str, domain: Domain) -> dict:
    return {
        "id": domain.id,
        "name": domain.name,
        "description": domain.description,
        "enabled": domain.enabled,
        "tags": [],
        "options": {},
        "links": {"self": url(base, "domains", domain.id)},
    }


def project_shape(base: str, project: Project) -> dict:
    return {
        "id": project.id,
        "name": project.name,
        "domain_id": project.domain_id,
        "description": project.description,
        "enabled": project.enabled,
        "parent_id": project.domain_id,
        "is_domain": False,
        "tags": [],
        "options": {},
        "links": {"self": url(base, "projects", project.id)},
    }


def user_shape(base: str, user: User) -> dict:
    """Keystone's user: email, description and default_project_id only when set."""
    body = {
        "id": user.id,
        "name": user.username,
        "domain_id": user.domain_id,
        "enabled": user.is_active,
        "password_expires_at": None,
        "options": {},
        "links": {"self": url(base, "users", user.id)},
    }
    if user.email:
        body["email"] = user.email
    if user.description:
        body["description"] = user.description
    if user.default_project_id:
        body["default_project_id"] = user.default_project_id
    return body


def role_shape(base: str, role: Role) -> dict:
    return {
        "id": role.id,
        "name": role.name,
        "domain_id": None,
        "description": role.description or None,
        "options": {"immutable": True} if role_is_immutable(role) else {},
        "links": {"self": url(base, "roles", role.id)},
    }


def assignment_shape(base: str, assignment: Assignment, domains: dict[str, str] | None) -> dict:
    """One role assignment; with `domains` (id: name) the user, project and role carry
    their names, as with Keystone's include_names."""
    user, project, role, prior = (
        assignment.user,
        assignment.project,
        assignment.role,
        assignment.prior,
    )
    body = {
        "role": {"id": role.id},
        "user": {"id": user.id},
        "scope": {"project": {"id": project.id}},
        "links": {
            "assignment": url(
                base, "projects", project.id, "users", user.id, "roles", (prior or role).id
            )
        },
    }
    if prior is not None:
        # Keystone's own (odd) form of this link: the implied role first.
        body["links"]["prior_role"] = url(base, "prior_role", role.id, "implies", prior.id)
    if domains is not None:
        body["role"]["name"] = role.name
        body["user"].update(
            name=user.username, domain={"id": user.domain_id, "name": domains.get(user.domain_id)}
        )
        body["scope"]["project"].update(
            name=project.name,
            domain={"id": project.domain_id, "name": domains.get(project.domain_id)},
        )
    return body


def _keystone_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def token_shape(
    base: str, token: Token, context: RequestContext, methods: list[str], catalog: bool = True
) -> dict:
    """A token as POST and GET /auth/tokens answer it (its catalog when project-scoped)."""
    project = token.project
    ids = frozenset({token.user.domain_id, project.domain_id if project else ""})
    domains = identity_cache.remembered(("domain_names", ids), lambda: domain_names(ids=set(ids)))

    def domain(domain_id: str) -> dict:
        return {"id": domain_id, "name": domains.get(domain_id)}

    body = {
        "methods": methods,
        "user": {
            "id": context.user_id,
            "name": context.user_name,
            "domain": domain(token.user.domain_id),
            "password_expires_at": None,
        },
        "audit_ids": [context.audit_id],
        "expires_at": _keystone_time(token.expires_at),
        "issued_at": _keystone_time(token.issued_at),
    }
    if project is not None:
        names = tuple(context.roles)
        roles = identity_cache.remembered(("role_ids", names), lambda: role_ids(names=list(names)))
        body.update(
            project={"id": project.id, "name": project.name, "domain": domain(project.domain_id)},
            is_domain=False,
            roles=[{"id": roles.get(name, name), "name": name} for name in context.roles],
        )
        if catalog:
            body["catalog"] = service_catalog(base, str(project.id))
    return {"token": body}
