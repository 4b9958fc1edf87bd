"""The network controller with real workers: a server booted on a network has its port
bound to the host the scheduler chose, and the controller tells that host's network
agent (queue `network.<host>`, read here straight from the broker as the agent would
get it) the network (VLAN tag, DHCP entry of the port's MAC and address) and the port
(tap device, VLAN, security group rules); the agent's report makes the port ACTIVE;
deleting the server unplugs the port and frees it."""

import base64
import json
import os

import pytest
import redis

from cloud.celery import app
from cloud.messaging import NETWORK_PORT_STATUS, NETWORK_QUEUE, network_agent_queue
from cloud.network.models import Port
from cloud.payloads import PortStatus
from tests.helpers import create_server, show, wait_gone, wait_status
from tests.integration.conftest import HOSTS, wait_for

N = "/network/v2.0"
V = "/compute/v2.1"


def _broker() -> redis.Redis:
    return redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])


def _agent_messages(host: str) -> list[tuple[str, dict]]:
    """The tasks waiting on the host's agent queue: (task name, payload)."""
    found = []
    for raw in _broker().lrange(network_agent_queue(host), 0, -1):
        message = json.loads(raw)
        args, _, _ = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], args[0]))
    return found


@pytest.fixture
def agent_queues():
    broker = _broker()
    for host in HOSTS:
        broker.delete(network_agent_queue(host))
    yield
    for host in HOSTS:
        broker.delete(network_agent_queue(host))


def test_a_server_on_a_network_is_wired_by_its_hosts_agent(cloud, member_client, agent_queues):
    network = member_client.post(
        f"{N}/networks", {"network": {"name": "wired"}}, format="json"
    ).json()["network"]
    subnet = member_client.post(
        f"{N}/subnets",
        {
            "subnet": {
                "network_id": network["id"],
                "cidr": "10.30.0.0/24",
                "ip_version": 4,
                "dns_nameservers": ["10.30.0.53"],
            }
        },
        format="json",
    ).json()["subnet"]
    server = create_server(member_client, "wired-vm", networks=[{"uuid": network["id"]}])
    shown = wait_status(member_client, server["id"], {"ACTIVE", "ERROR"}, timeout=60)
    assert shown["status"] == "ACTIVE", shown
    host = (
        shown.get("OS-EXT-SRV-ATTR:host") or Port.objects.get(device_id=server["id"]).binding_host
    )
    port = Port.objects.get(device_id=server["id"])
    assert port.binding_host == host
    address = port.fixed_ips.get().ip_address
    assert shown["addresses"]["wired"][0]["addr"] == address

    def sent():
        tasks = dict(_agent_messages(host))
        return (
            tasks
            if {"network_agent.network_setup", "network_agent.port_bind"} <= set(tasks)
            else None
        )

    tasks = wait_for(sent, 30, message=f"agent messages on network.{host}")
    setup = tasks["network_agent.network_setup"]
    assert setup["network_id"] == network["id"]
    assert setup["segmentation_id"] == network["provider:segmentation_id"]
    assert setup["subnets"][0]["cidr"] == "10.30.0.0/24"
    assert setup["subnets"][0]["dns_nameservers"] == ["10.30.0.53"]
    assert {
        "mac_address": port.mac_address,
        "ip_address": address,
        "hostname": "wired-vm",
        "port_id": str(port.id),
    } in setup["dhcp_hosts"]
    dhcp = Port.objects.get(network_id=network["id"], device_owner="network:dhcp")
    assert setup["dhcp_port"]["port_id"] == str(dhcp.id) and dhcp.binding_host == host
    binding = tasks["network_agent.port_bind"]
    assert binding["port_id"] == str(port.id)
    assert binding["devname"] == f"tap{str(port.id)[:11]}"
    assert binding["segmentation_id"] == network["provider:segmentation_id"]
    assert binding["mac_address"] == port.mac_address
    assert binding["instance_uuid"] == server["id"]
    assert binding["fixed_ips"][0]["ip_address"] == address
    assert binding["fixed_ips"][0]["prefixlen"] == 24
    assert {r["direction"] for r in binding["security_group_rules"]} == {"ingress", "egress"}
    assert subnet["id"] == binding["fixed_ips"][0]["subnet_id"]

    # The agent's report, on the controller's queue as the agent sends it.
    report = PortStatus(port_id=str(port.id), host=host, status="ACTIVE", sent_at="now")
    app.send_task(NETWORK_PORT_STATUS, args=[report.to_dict()], queue=NETWORK_QUEUE)
    wait_for(lambda: Port.objects.get(id=port.id).status == "ACTIVE", 30, message="port ACTIVE")
    # A security group rule change reaches the host's agent as a new binding.
    _broker().delete(network_agent_queue(host))
    group = member_client.get(f"{N}/security-groups").json()["security_groups"][0]
    rule = member_client.post(
        f"{N}/security-group-rules",
        {
            "security_group_rule": {
                "security_group_id": group["id"],
                "direction": "ingress",
                "protocol": "tcp",
                "port_range_min": 22,
                "port_range_max": 22,
            }
        },
        format="json",
    )
    assert rule.status_code == 201

    def rebound():
        for name, body in _agent_messages(host):
            if name == "network_agent.port_bind":
                ports = {(r["protocol"], r["port_range_min"]) for r in body["security_group_rules"]}
                if ("tcp", 22) in ports:
                    return body
        return None

    wait_for(rebound, 30, message="the new rule sent to the agent")

    assert member_client.delete(f"{V}/servers/{server['id']}").status_code == 204
    wait_gone(member_client, server["id"], timeout=60)
    assert not Port.objects.filter(id=port.id).exists()

    def unbound():
        return any(
            name == "network_agent.port_unbind" and body["port_id"] == str(port.id)
            for name, body in _agent_messages(host)
        )

    wait_for(unbound, 30, message="the port unplugged on its host")
    wait_for(
        lambda: not Port.objects.filter(network_id=network["id"]).exists(),
        30,
        message="the host's DHCP port goes with the last port",
    )
    assert member_client.delete(f"{N}/networks/{network['id']}").status_code == 204


def _settled(client, server_id: str, status: str) -> dict:
    wait_for(
        lambda: (
            (s := show(client, server_id))
            and s["status"] == status
            and s["OS-EXT-STS:task_state"] is None
        ),
        60,
        message=f"{server_id} settled in {status}",
    )
    return show(client, server_id)


def _macs(client, server_id: str) -> list[str]:
    """The guest's interfaces as its hypervisor has them now (its diagnostics)."""
    response = client.get(
        f"{V}/servers/{server_id}/diagnostics", HTTP_OPENSTACK_API_VERSION="compute 2.48"
    )
    assert response.status_code == 200, response.content
    return [n["mac_address"] for n in response.json()["nic_details"]]


def _restarted(client, server_id: str) -> None:
    """Stopped and started: the test hypervisor's guest runs its persistent definition."""
    for action, status in (("os-stop", "SHUTOFF"), ("os-start", "ACTIVE")):
        response = client.post(f"{V}/servers/{server_id}/action", {action: None}, format="json")
        assert response.status_code == 202, response.content
        _settled(client, server_id, status)


def test_interfaces_reach_the_guest_and_ports_follow_a_resize(cloud, admin_client, agent_queues):
    """os-interface on an ACTIVE server asks its host: the test hypervisor's guest has the
    interface from its next start, and loses it the same way; a resize to the other
    host binds the ports there (its agent wires them) and the source's agent unwires."""
    network = admin_client.post(
        f"{N}/networks", {"network": {"name": "moving"}}, format="json"
    ).json()["network"]
    admin_client.post(
        f"{N}/subnets",
        {"subnet": {"network_id": network["id"], "cidr": "10.32.0.0/24", "ip_version": 4}},
        format="json",
    )
    server = create_server(admin_client, "mover", networks=[{"uuid": network["id"]}])
    source = _settled(admin_client, server["id"], "ACTIVE")["OS-EXT-SRV-ATTR:host"]
    first = Port.objects.get(device_id=server["id"])
    assert _macs(admin_client, server["id"]) == [first.mac_address]

    attach = {"interfaceAttachment": {"net_id": network["id"]}}
    response = admin_client.post(f"{V}/servers/{server['id']}/os-interface", attach, format="json")
    assert response.status_code == 200, response.content
    second = Port.objects.get(id=response.json()["interfaceAttachment"]["port_id"])
    assert second.binding_host == source
    _restarted(admin_client, server["id"])
    assert _macs(admin_client, server["id"]) == [first.mac_address, second.mac_address]
    response = admin_client.delete(f"{V}/servers/{server['id']}/os-interface/{second.id}")
    assert response.status_code == 202
    assert not Port.objects.filter(id=second.id).exists()
    _restarted(admin_client, server["id"])
    assert _macs(admin_client, server["id"]) == [first.mac_address]

    _broker().delete(network_agent_queue(source))
    response = admin_client.post(
        f"{V}/servers/{server['id']}/action", {"resize": {"flavorRef": "2"}}, format="json"
    )
    assert response.status_code == 202, response.content
    dest = _settled(admin_client, server["id"], "VERIFY_RESIZE")["OS-EXT-SRV-ATTR:host"]
    assert dest != source
    assert Port.objects.get(id=first.id).binding_host == dest

    def told(host: str, task: str) -> bool:
        return any(
            name == task and body["port_id"] == str(first.id)
            for name, body in _agent_messages(host)
        )

    wait_for(lambda: told(dest, "network_agent.port_bind"), 30, message="bound on the dest")
    wait_for(lambda: told(source, "network_agent.port_unbind"), 30, message="unbound at source")
    assert admin_client.delete(f"{V}/servers/{server['id']}").status_code == 204
    wait_gone(admin_client, server["id"], timeout=60)


def test_a_new_member_of_a_group_is_let_in_by_the_others_and_its_going_shuts_them(
    cloud, member_client, agent_queues
):
    """The default group lets its members in (a rule with itself as remote group): the
    first server's binding is re-sent with the second's address when the second's port
    comes, without it when the second's port leaves the group, with it again when it
    comes back, and without it when the second goes."""
    network = member_client.post(
        f"{N}/networks", {"network": {"name": "members"}}, format="json"
    ).json()["network"]
    member_client.post(
        f"{N}/subnets",
        {"subnet": {"network_id": network["id"], "cidr": "10.31.0.0/24", "ip_version": 4}},
        format="json",
    )
    nets = [{"uuid": network["id"]}]
    first = create_server(member_client, "member-1", networks=nets)
    assert wait_status(member_client, first["id"], {"ACTIVE", "ERROR"})["status"] == "ACTIVE"
    first_port = Port.objects.get(device_id=first["id"])
    host = first_port.binding_host

    def first_allows():
        """The remote prefixes of the first port's latest ingress rules sent to its host
        (the queue holds the newest message first: the broker pushes on the left)."""
        bindings = [
            body
            for name, body in _agent_messages(host)
            if name == "network_agent.port_bind" and body["port_id"] == str(first_port.id)
        ]
        if not bindings:
            return set()
        rules = bindings[0]["security_group_rules"]
        return {p for r in rules if r["direction"] == "ingress" for p in r["remote_ip_prefixes"]}

    second = create_server(member_client, "member-2", networks=nets)
    assert wait_status(member_client, second["id"], {"ACTIVE", "ERROR"})["status"] == "ACTIVE"
    second_address = Port.objects.get(device_id=second["id"]).fixed_ips.get().ip_address
    wait_for(
        lambda: f"{second_address}/32" in first_allows(),
        30,
        message="the first port re-sent with the second's address",
    )

    second_port = Port.objects.get(device_id=second["id"])
    default = [str(g.id) for g in second_port.security_groups.all()]
    other = member_client.post(
        f"{N}/security-groups", {"security_group": {"name": "elsewhere"}}, format="json"
    ).json()["security_group"]
    for groups, present in (([other["id"]], False), (default, True)):
        _broker().delete(network_agent_queue(host))
        reply = member_client.put(
            f"{N}/ports/{second_port.id}", {"port": {"security_groups": groups}}, format="json"
        )
        assert reply.status_code == 200, reply.content
        wait_for(
            lambda present=present: (
                (allowed := first_allows()) and (f"{second_address}/32" in allowed) == present
            ),
            30,
            message=f"the first port re-sent {'with' if present else 'without'} the second's",
        )

    _broker().delete(network_agent_queue(host))
    assert member_client.delete(f"{V}/servers/{second['id']}").status_code == 204
    wait_gone(member_client, second["id"], timeout=60)
    wait_for(
        lambda: (allowed := first_allows()) and f"{second_address}/32" not in allowed,
        30,
        message="the first port re-sent without the second's address",
    )
    assert member_client.delete(f"{V}/servers/{first['id']}").status_code == 204
    wait_gone(member_client, first["id"], timeout=60)
