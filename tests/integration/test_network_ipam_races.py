"""IPAM and VLANs under concurrency, on PostgreSQL: each request its own thread, its own
connection, its own transaction. 50 port creates on a /26 get 50 distinct addresses;
on a /27 exactly as many as fit, the rest a 409 naming the subnet; concurrent network
creates never share a VLAN id. The ports come from several projects on a shared
network, so the requests do not queue on one project's quota lock: the addresses
themselves are contended."""

import ipaddress
import threading

import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from cloud.identity.services import project_user_ensure
from cloud.network.models import IPAllocation, Network, Port
from tests.helpers import PASSWORD, token_for

N = "/network/v2.0"
PROJECTS = 10


@pytest.fixture
def tokens(transactional_db, seeded):
    found = []
    for index in range(PROJECTS):
        project_user_ensure(
            project_name=f"race-{index}",
            username=f"racer-{index}",
            password=PASSWORD,
            role_name="member",
        )
        found.append(token_for(f"racer-{index}", f"race-{index}"))
    return found


def _shared_subnet(admin_api, cidr: str) -> tuple[str, str]:
    network = admin_api.post(
        f"{N}/networks", {"network": {"name": "race", "shared": True}}, format="json"
    ).json()["network"]
    subnet = admin_api.post(
        f"{N}/subnets",
        {"subnet": {"network_id": network["id"], "cidr": cidr, "ip_version": 4}},
        format="json",
    ).json()["subnet"]
    return network["id"], subnet["id"]


def _in_parallel(count: int, request) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = request(index)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _port_creates(tokens, network_id: str, count: int) -> list:
    def create(index: int):
        client = APIClient()
        client.credentials(HTTP_X_AUTH_TOKEN=tokens[index % len(tokens)])
        reply = client.post(f"{N}/ports", {"port": {"network_id": network_id}}, format="json")
        return reply.status_code, reply.json()

    return _in_parallel(count, create)


def test_50_concurrent_ports_on_a_26_get_50_distinct_addresses(admin_api, tokens):
    network_id, subnet_id = _shared_subnet(admin_api, "10.20.0.0/26")
    results = _port_creates(tokens, network_id, 50)

    assert sorted(code for code, _ in results) == [201] * 50, [b for c, b in results if c != 201]
    addresses = [body["port"]["fixed_ips"][0]["ip_address"] for _, body in results]
    assert len(set(addresses)) == 50
    pool = ipaddress.ip_network("10.20.0.0/26")
    assert all(ipaddress.ip_address(a) in pool and a != "10.20.0.1" for a in addresses)
    rows = IPAllocation.objects.filter(subnet_id=subnet_id)
    assert rows.count() == 50 == len(set(rows.values_list("ip_address", flat=True)))


def test_more_ports_than_addresses_fill_the_subnet_and_the_rest_are_409(admin_api, tokens):
    network_id, subnet_id = _shared_subnet(admin_api, "10.21.0.0/27")  # .2 - .30: 29
    results = _port_creates(tokens, network_id, 50)

    created = [body for code, body in results if code == 201]
    refused = [body for code, body in results if code != 201]
    assert len(created) == 29 and len(refused) == 21
    assert {code for code, _ in results} == {201, 409}
    for body in refused:
        assert body["NeutronError"]["type"] == "IpAddressGenerationFailure"
        assert subnet_id in body["NeutronError"]["message"]
    addresses = {body["port"]["fixed_ips"][0]["ip_address"] for body in created}
    assert len(addresses) == 29
    # Nothing half-written: the refused ports left no row.
    assert Port.objects.filter(network_id=network_id).count() == 29


@override_settings(NETWORK_VLAN_RANGES="physnet1:200:219")
def test_concurrent_network_creates_never_share_a_vlan(tokens):
    def create(index: int):
        client = APIClient()
        client.credentials(HTTP_X_AUTH_TOKEN=tokens[index % len(tokens)])
        reply = client.post(f"{N}/networks", {"network": {"name": f"n{index}"}}, format="json")
        return reply.status_code, reply.json()

    results = _in_parallel(30, create)
    created = [body["network"] for code, body in results if code == 201]
    refused = [body for code, body in results if code != 201]
    vlans = [n["provider:segmentation_id"] for n in created]
    assert len(created) == 20 and len(set(vlans)) == 20 and set(vlans) == set(range(200, 220))
    assert all(body["NeutronError"]["type"] == "ServiceUnavailable" for body in refused)
    assert Network.objects.count() == 20
