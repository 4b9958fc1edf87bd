"""Identity administration reads: domains, projects, users, roles, grants and role
assignments, as the Keystone v3 API lists and filters them."""

from dataclasses import dataclass

from django.db.models import QuerySet

from cloud.identity.context import IMPLIED_ROLES
from cloud.identity.models import Domain, Project, Role, RoleAssignment, User


def _filtered(qs: QuerySet, **filters) -> QuerySet:
    """qs filtered on every lookup whose value was given (None means "not asked for")."""
    return qs.filter(**{key: value for key, value in filters.items() if value is not None})


def domain_find(*, domain_id: str) -> Domain | None:
    return Domain.objects.filter(id=domain_id).first()


def domain_list(*, name: str | None = None, enabled: bool | None = None) -> QuerySet:
    return _filtered(Domain.objects.order_by("name", "id"), name=name, enabled=enabled)


def domain_names(*, ids: set[str]) -> dict[str, str]:
    return dict(Domain.objects.filter(id__in=ids).values_list("id", "name"))


def project_find(*, project_id: str) -> Project | None:
    return Project.objects.filter(id=project_id).first()


def project_list(
    *, name: str | None = None, domain_id: str | None = None, enabled: bool | None = None
) -> QuerySet:
    return _filtered(
        Project.objects.order_by("name", "id"), name=name, domain_id=domain_id, enabled=enabled
    )


def user_project_list(
    *,
    user_id: str,
    name: str | None = None,
    domain_id: str | None = None,
    enabled: bool | None = None,
) -> QuerySet:
    """The projects a user holds any role on."""
    return project_list(name=name, domain_id=domain_id, enabled=enabled).filter(
        id__in=RoleAssignment.objects.filter(user_id=user_id).values("project_id")
    )


def auth_project_list(*, user_id: str) -> QuerySet:
    """The projects a user can scope a token to: enabled, in an enabled domain, with a role."""
    return user_project_list(user_id=user_id, enabled=True).exclude(
        domain_id__in=Domain.objects.filter(enabled=False).values("id")
    )


def user_find(*, user_id: str) -> User | None:
    return User.objects.filter(id=user_id).first()


def user_list(
    *, name: str | None = None, domain_id: str | None = None, enabled: bool | None = None
) -> QuerySet:
    return _filtered(
        User.objects.order_by("username", "id"),
        username=name,
        domain_id=domain_id,
        is_active=enabled,
    )


def role_find(*, role_id: str) -> Role | None:
    return Role.objects.filter(id=role_id).first()


def role_ids(*, names: list[str]) -> dict[str, str]:
    """The ids of the named roles, by name."""
    return dict(Role.objects.filter(name__in=names).values_list("name", "id"))


def role_is_immutable(role: Role) -> bool:
    """The default roles (admin, member, reader): policies and role implication name them."""
    return role.name in IMPLIED_ROLES


def role_list(*, name: str | None = None, domain_id: str | None = None) -> QuerySet:
    """Roles by name; every role is global, so one asked for in a domain matches none."""
    if domain_id:
        return Role.objects.none()
    return _filtered(Role.objects.order_by("name", "id"), name=name)


def grant_role_list(*, user_id: str, project_id: str) -> QuerySet:
    """The roles given to a user on a project directly (not the ones they imply)."""
    return Role.objects.filter(assignments__user_id=user_id, assignments__project_id=project_id)


def grant_exists(*, user_id: str, project_id: str, role_id: str) -> bool:
    return RoleAssignment.objects.filter(
        user_id=user_id, project_id=project_id, role_id=role_id
    ).exists()


@dataclass(frozen=True)
class Assignment:
    """A role a user holds on a project; `prior` is the role that implies it, if any."""

    user: User
    project: Project
    role: Role
    prior: Role | None = None


def _implied(assignments: list[Assignment]) -> list[Assignment]:
    """The assignments with the roles each implies, as Keystone's `effective` lists them:
    a role held directly is listed once, as direct."""
    names = {name for implied in IMPLIED_ROLES.values() for name in implied}
    roles = {role.name: role for role in Role.objects.filter(name__in=names)}
    held = {(a.user.id, a.project.id, a.role.id) for a in assignments}
    found = list(assignments)
    for assignment in assignments:
        for name in IMPLIED_ROLES.get(assignment.role.name, ()):
            role = roles.get(name)
            key = (assignment.user.id, assignment.project.id, role.id if role else None)
            if role is None or key in held:
                continue
            held.add(key)
            found.append(Assignment(assignment.user, assignment.project, role, assignment.role))
    return found


def role_assignment_list(
    *,
    user_id: str | None = None,
    project_id: str | None = None,
    role_id: str | None = None,
    effective: bool = False,
) -> list[Assignment]:
    """Role assignments on projects, filtered by user, project and role.

    With `effective`, roles implied by the ones given are listed too, and the role
    filter applies to the result (as Keystone does).
    """
    rows = _filtered(
        RoleAssignment.objects.select_related("user", "project", "role"),
        user_id=user_id,
        project_id=project_id,
        role_id=None if effective else role_id,
    ).order_by("project__name", "user__username", "role__name")
    found = [Assignment(row.user, row.project, row.role) for row in rows]
    if effective:
        found = sorted(
            _implied(found), key=lambda a: (a.project.name, a.user.username, a.role.name)
        )
        if role_id is not None:
            found = [a for a in found if a.role.id == role_id]
    return found
