"""The request context: who is calling, for which project, with which roles."""

from dataclasses import dataclass, field
from datetime import datetime

# Keystone's default role hierarchy: each role implies the ones after it.
IMPLIED_ROLES = {"admin": ("member", "reader"), "member": ("reader",), "reader": ()}


def expand_roles(names: set[str]) -> list[str]:
    expanded = set(names)
    for name in names:
        expanded.update(IMPLIED_ROLES.get(name, ()))
    return sorted(expanded)


@dataclass(frozen=True)
class RequestContext:
    user_id: str
    user_name: str
    project_id: str | None
    project_name: str | None
    roles: list[str] = field(default_factory=list)
    expires_at: datetime | None = None
    audit_id: str = ""

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles
