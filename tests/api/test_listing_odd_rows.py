"""A listing never fails because of one bad row: with one of everything made through
the API, every JSON column of every row set to a value of the wrong shape (null, a
number, a string, a list of nulls, an object of nulls), and every nullable column
set to NULL, each listing of each API still answers 200 for the admin and for the
member, and still lists the rows the caller may see. Such rows come from older
releases, the admin site or a hand-edited database; the presenters read them
defensively rather than the listing failing as a whole. (A lone surrogate cannot be
stored in PostgreSQL; the renderer's handling of one is in
tests/unit/test_request_bodies.py.)"""

import pytest
from django.apps import apps
from django.db import models
from django.utils import timezone

from cloud.hosts.models import Aggregate, ComputeNode
from cloud.placement.claims import InventorySpec, provider_sync
from tests.helpers import create_server

C = "/compute/v2.1"
N = "/network/v2.0"
LATEST = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
ODD = [None, [None], {"k": None}]

# Every listing, and for the member too unless admin-only.
LISTINGS = [
    f"{C}/servers",
    f"{C}/servers/detail",
    f"{C}/servers/detail?all_tenants=1&deleted=true",
    f"{C}/flavors/detail",
    f"{C}/os-keypairs",
    f"{C}/os-server-groups",
    f"{C}/os-aggregates",
    f"{C}/os-hypervisors/detail",
    f"{C}/os-services",
    f"{C}/os-availability-zone/detail",
    f"{C}/os-migrations",
    f"{C}/limits",
    "/image/v2/images",
    f"{N}/networks",
    f"{N}/subnets",
    f"{N}/ports",
    f"{N}/security-groups",
    f"{N}/security-group-rules",
    f"{N}/floatingips",
    "/placement/resource_providers",
    "/placement/resource_classes",
    "/placement/traits",
    "/placement/allocation_candidates?resources=VCPU:1",
    "/identity/v3/users",
    "/identity/v3/projects",
    "/identity/v3/roles",
    "/identity/v3/role_assignments",
]
PER_SERVER = ["metadata", "os-instance-actions", "os-interface"]


@pytest.fixture
def world(api, admin_api):
    """One of each kind of row, made as clients make them."""
    ComputeNode.objects.create(
        host="hv-1", vcpus=8, memory_mb=16384, local_gb=200, last_seen_at=timezone.now()
    )
    provider_sync(name="hv-1", inventories={"VCPU": InventorySpec(total=8)})
    server = create_server(api, "vm", metadata={"role": "web"})
    keypair = {"keypair": {"name": "k"}}
    assert api.post(f"{C}/os-keypairs", keypair, format="json").status_code == 200
    group = {"server_group": {"name": "g", "policies": ["affinity"]}}
    assert api.post(f"{C}/os-server-groups", group, format="json").status_code == 200
    image = {"name": "i", "disk_format": "raw", "container_format": "bare", "tags": ["t"]}
    assert api.post("/image/v2/images", image, format="json").status_code == 201
    aggregate = {"aggregate": {"name": "a"}}
    found = admin_api.post(f"{C}/os-aggregates", aggregate, format="json").json()["aggregate"]
    meta = {"set_metadata": {"metadata": {"k": "v"}}}
    admin_api.post(f"{C}/os-aggregates/{found['id']}/action", meta, format="json")
    network = api.post(f"{N}/networks", {"network": {"name": "n"}}, format="json").json()
    subnet = {"network_id": network["network"]["id"], "cidr": "10.0.0.0/24", "ip_version": 4}
    assert api.post(f"{N}/subnets", {"subnet": subnet}, format="json").status_code == 201
    port = {"network_id": network["network"]["id"]}
    assert api.post(f"{N}/ports", {"port": port}, format="json").status_code == 201
    group = api.post(f"{N}/security-groups", {"security_group": {"name": "s"}}, format="json")
    rule = {"security_group_id": group.json()["security_group"]["id"], "direction": "ingress"}
    assert api.post(f"{N}/security-group-rules", {"security_group_rule": rule}, format="json")
    assert Aggregate.objects.exists()
    return server


def _spoil(value) -> int:
    """Every JSON column of every row of ours to `value`, every nullable one to NULL."""
    changed = 0
    for model in apps.get_models():
        if not model.__module__.startswith("cloud.") or model._meta.proxy:
            continue
        changes = {}
        for field in model._meta.concrete_fields:
            if isinstance(field, models.JSONField):
                # JSON null, not SQL NULL, for None.
                changes[field.name] = models.Value(value, output_field=models.JSONField())
            elif field.null and not field.primary_key and not field.is_relation:
                changes[field.name] = None
        if changes:
            changed += model.objects.update(**changes)
    return changed


@pytest.mark.parametrize("value", ODD, ids=repr)
def test_no_listing_fails_on_a_row_of_odd_data(api, admin_api, world, value):
    assert _spoil(value) > 10
    failed = []
    for client, who in ((admin_api, "admin"), (api, "member")):
        for url in [*LISTINGS, *(f"{C}/servers/{world['id']}/{p}" for p in PER_SERVER)]:
            response = client.get(url, **LATEST)
            if response.status_code >= 500:
                failed.append(f"{who} GET {url}: {response.status_code}")
    assert not failed, "\n".join(failed)
    servers = api.get(f"{C}/servers/detail", **LATEST).json()["servers"]
    assert [s["id"] for s in servers] == [world["id"]]
