"""The service catalog handed out with every token."""

import uuid

from django.conf import settings

_SERVICES = (
    # (type, name, path below the base URL)
    ("identity", "keystone", "/identity/v3"),
    ("compute", "nova", "/compute/v2.1"),
    ("image", "glance", "/image"),
    ("placement", "placement", "/placement"),
)


def _stable_id(*parts: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)).hex


def service_catalog(base: str) -> list[dict]:
    region = settings.REGION_NAME
    catalog = []
    for service_type, name, path in _SERVICES:
        url = f"{base}{path}"
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
