"""A test client for the placement API: one microversion per call, helpers to create
providers with inventories and to allocate, and Placement's error body unpacked."""

import json
import uuid

P = "/placement"
INVENTORY = {"VCPU": {"total": 4}, "MEMORY_MB": {"total": 2048, "max_unit": 2048}}


class Placement:
    """A client that speaks placement at one microversion (1.39 unless told)."""

    def __init__(self, client) -> None:
        self.client = client

    def __call__(self, method: str, path: str, body=None, version: str = "1.39"):
        extra = {"HTTP_OPENSTACK_API_VERSION": f"placement {version}"}
        if body is not None:
            extra.update(data=json.dumps(body), content_type="application/json")
        return self.client.generic(method, f"{P}{path}", **extra)

    def ok(self, method: str, path: str, body=None, version: str = "1.39", status: int = 200):
        response = self(method, path, body, version)
        assert response.status_code == status, response.content
        return response.json() if response.content else None

    def provider(self, name: str, inventories: dict | None = None, **fields) -> dict:
        created = self.ok("POST", "/resource_providers", {"name": name, **fields})
        if inventories:
            body = {"inventories": inventories, "resource_provider_generation": 0}
            self.ok("PUT", f"/resource_providers/{created['uuid']}/inventories", body)
        return self.ok("GET", f"/resource_providers/{created['uuid']}")

    def allocate(self, consumer: str, allocations: dict, generation=None, **extra) -> None:
        body = {
            "allocations": {rp: {"resources": r} for rp, r in allocations.items()},
            "project_id": "p1",
            "user_id": "u1",
            "consumer_generation": generation,
            "consumer_type": "INSTANCE",
            **extra,
        }
        self.ok("PUT", f"/allocations/{consumer}", body, status=204)


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    [found] = response.json()["errors"]
    assert found["status"] == status
    return found


def new_id() -> str:
    return str(uuid.uuid4())
