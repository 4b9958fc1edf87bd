"""What makes remembered identity reads stale (cloud.identity.cache): every write of a
user, project, domain, role or role assignment, and every token revoked or removed.

Saves and deletes are caught by model signals (a queryset delete sends them too,
row by row); the bulk UPDATEs that revoke tokens call `cache.invalidate` themselves
(cloud.identity.services, cloud.identity.admin_services). Issuing a token changes
nothing already remembered, so a new token's row sends nothing.
"""

from django.db.models.signals import post_delete, post_save

from cloud.identity import cache
from cloud.identity.models import Domain, Project, Role, RoleAssignment, Token, User

WATCHED = (User, Project, Domain, Role, RoleAssignment)


def _changed(sender, **kwargs) -> None:
    cache.invalidate()


def _token_changed(sender, created: bool = False, **kwargs) -> None:
    if not created:
        cache.invalidate()


def connect() -> None:
    for model in WATCHED:
        post_save.connect(_changed, sender=model, dispatch_uid=f"identity-cache-{model.__name__}")
        post_delete.connect(
            _changed, sender=model, dispatch_uid=f"identity-cache-del-{model.__name__}"
        )
    post_save.connect(_token_changed, sender=Token, dispatch_uid="identity-cache-Token")
    post_delete.connect(_changed, sender=Token, dispatch_uid="identity-cache-del-Token")
