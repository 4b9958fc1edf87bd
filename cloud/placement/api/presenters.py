"""Placement API bodies: providers with their links, inventories, allocations and
allocation candidates, in the shape each microversion gives them."""

from cloud.api.microversions import APIVersion
from cloud.placement.models import Allocation, Consumer, Inventory, ResourceProvider

PREFIX = "/placement"

INVENTORY_FIELDS = ("total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio")


def provider_path(provider_uuid) -> str:
    return f"{PREFIX}/resource_providers/{provider_uuid}"


def provider(
    row: ResourceProvider, version: APIVersion, lineage: tuple[str | None, str] | None = None
) -> dict:
    """A provider; `lineage` (parent uuid, root uuid) is shown from 1.14."""
    url = provider_path(row.uuid)
    rels = ["inventories", "usages"]
    rels += [
        rel for rel, since in (("aggregates", "1.1"), ("traits", "1.6")) if version.at_least(since)
    ]
    if version.at_least("1.11"):
        rels.append("allocations")
    body = {
        "uuid": str(row.uuid),
        "name": row.name,
        "generation": row.generation,
        "links": [
            {"rel": "self", "href": url},
            *({"rel": rel, "href": f"{url}/{rel}"} for rel in rels),
        ],
    }
    if version.at_least("1.14"):
        parent, root = lineage or (None, str(row.uuid))
        body["parent_provider_uuid"] = parent
        body["root_provider_uuid"] = root
    return body


def inventory(row: Inventory) -> dict:
    return {field: getattr(row, field) for field in INVENTORY_FIELDS}


def inventories(rows: list[Inventory], generation: int) -> dict:
    return {
        "inventories": {row.resource_class: inventory(row) for row in rows},
        "resource_provider_generation": generation,
    }


def consumer_allocations(
    rows: list[Allocation], consumer: Consumer | None, version: APIVersion
) -> dict:
    """GET /allocations/{consumer_uuid}: what the consumer holds, by provider."""
    held: dict[str, dict] = {}
    for row in rows:
        entry = held.setdefault(
            str(row.provider.uuid), {"generation": row.provider.generation, "resources": {}}
        )
        entry["resources"][row.resource_class] = row.used
    body: dict = {"allocations": held}
    if rows and version.at_least("1.12"):
        body["project_id"] = consumer.project_id if consumer else rows[0].project_id
        body["user_id"] = consumer.user_id if consumer else ""
        if version.at_least("1.28"):
            body["consumer_generation"] = consumer.generation if consumer else None
        if version.at_least("1.38"):
            # Consumer types are not stored: every consumer is of Placement's default type.
            body["consumer_type"] = "unknown"
    return body


def allocation_request(provider_uuid: str, amounts: dict[str, int], version: APIVersion) -> dict:
    """One allocation request of GET /allocation_candidates (one provider serves it all)."""
    if not version.at_least("1.12"):
        return {
            "allocations": [{"resource_provider": {"uuid": provider_uuid}, "resources": amounts}]
        }
    body: dict = {"allocations": {provider_uuid: {"resources": amounts}}}
    if version.at_least("1.34"):
        body["mappings"] = {"": [provider_uuid]}
    return body


def provider_summary(
    capacities: dict[str, tuple[int, int]],
    wanted: dict[str, int],
    version: APIVersion,
    traits: list[str],
    lineage: tuple[str | None, str],
) -> dict:
    """A candidate's capacity and usage ({class: (capacity, used)}): of the requested
    classes, or from 1.27 of all."""
    every = version.at_least("1.27")
    body: dict = {
        "resources": {
            rc: {"capacity": capacity, "used": used}
            for rc, (capacity, used) in capacities.items()
            if every or rc in wanted
        }
    }
    if version.at_least("1.17"):
        body["traits"] = traits
    if version.at_least("1.29"):
        body["parent_provider_uuid"], body["root_provider_uuid"] = lineage
    return body
