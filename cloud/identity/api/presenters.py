"""Keystone v3 JSON shapes of identity entities, each with its `links.self`."""

from cloud.identity.admin_selectors import Assignment, role_is_immutable
from cloud.identity.models import Domain, Project, Role, User


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
