"""The service catalog handed out with every token."""

import uuid
from functools import cache

from django.conf import settings

_SERVICES = (
    # (type, name, path below the base URL)
    ("identity", "keystone", "/identity/v3"),
    ("compute", "nova", "/compute/v2.1"),
    ("image", "glance", "/image"),
    ("network", "neutron", "/network"),
    ("placement", "placement", "/placement"),
    # Cinder's URL names the project (filled in per token); the SDK takes either type.
    ("block-storage", "cinderv3", "/volume/v3/{project_id}"),
    ("volumev3", "cinderv3", "/volume/v3/{project_id}"),
)


@cache
def _stable_id(*parts: str) -> str:
    """A service's or endpoint's id: the same in every token (a handful of them, made
    once: 28 uuid5 a token were a quarter of a token check's time)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)).hex


def service_catalog(base: str, project_id: str | None = None) -> list[dict]:
    """The catalog for a token; without a project (an unscoped token) the services
    whose URL names one are left out."""
    region = settings.REGION_NAME
    catalog = []
    for service_type, name, path in _SERVICES:
        if "{project_id}" in path and not project_id:
            continue
        url = f"{base}{path.format(project_id=project_id)}"
        catalog.append(
            {
                "id": _stable_id(service_type),
                "type": service_type,
                "name": name,
                "endpoints": [
                    {
                        "id": _stable_id(service_type, interface),
                        "interface": interface,
                        "region": region,
                        "region_id": region,
                        "url": url,
                    }
                    for interface in ("public", "internal", "admin")
                ],
            }
        )
    return catalog
