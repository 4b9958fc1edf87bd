"""Servers get networks (the compute API with the network app, database only): ports
made in the create's transaction (`--network`, `--nic net-id=,v4-fixed-ip=`, `--port`,
`auto`, `none`), Nova's `addresses` and `security_groups`, os-interface, and the
ports freed with the server (but the ones passed in, kept and unbound)."""

import pytest
from django.test import override_settings

from cloud.instances.models import Instance
from cloud.network.models import Network, Port, SecurityGroup
from tests.helpers import create_server

V = "/compute/v2.1"
N = "/network/v2.0"
LATEST = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


@pytest.fixture
def private(api):
    network = api.post(f"{N}/networks", {"network": {"name": "private"}}, format="json")
    network = network.json()["network"]
    subnet = api.post(
        f"{N}/subnets",
        {"subnet": {"network_id": network["id"], "cidr": "10.0.0.0/29", "ip_version": 4}},
        format="json",
    ).json()["subnet"]
    return network, subnet


def boot(client, networks, **extra):
    body = {
        "server": {
            "name": "vm",
            "imageRef": _image(),
            "flavorRef": "1",
            "networks": networks,
            **extra,
        }
    }
    return client.post(f"{V}/servers", body, format="json", **LATEST)


def _image():
    from cloud.instances.management.commands.seed import TINY_IMAGE_ID

    return TINY_IMAGE_ID


def _show(client, server_id):
    return client.get(f"{V}/servers/{server_id}", **LATEST).json()["server"]


def test_server_on_a_network_gets_a_port_and_shows_its_address(api, private):
    network, subnet = private
    response = boot(api, [{"uuid": network["id"]}])
    assert response.status_code == 202, response.json()
    server = response.json()["server"]
    assert server["security_groups"] == [{"name": "default"}]
    [port] = Port.objects.filter(device_id=server["id"])
    assert port.device_owner == "compute:nova" and port.delete_with_device
    address = port.fixed_ips.get().ip_address
    shown = _show(api, server["id"])
    assert shown["addresses"] == {
        "private": [
            {
                "version": 4,
                "addr": address,
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": port.mac_address,
            }
        ]
    }
    assert shown["security_groups"] == [{"name": "default"}]
    listed = api.get(f"{V}/servers/detail", **LATEST).json()["servers"]
    assert listed[0]["addresses"] == shown["addresses"]
    ports = api.get(f"{N}/ports?device_id={server['id']}").json()["ports"]
    assert [p["id"] for p in ports] == [str(port.id)]


def test_fixed_ip_and_security_groups_asked_for(api, private):
    network, _ = private
    group = api.post(f"{N}/security-groups", {"security_group": {"name": "web"}}, format="json")
    response = boot(
        api, [{"uuid": network["id"], "fixed_ip": "10.0.0.5"}], security_groups=[{"name": "web"}]
    )
    assert response.status_code == 202, response.json()
    server_id = response.json()["server"]["id"]
    port = Port.objects.get(device_id=server_id)
    assert port.fixed_ips.get().ip_address == "10.0.0.5"
    assert [str(g.id) for g in port.security_groups.all()] == [group.json()["security_group"]["id"]]
    assert _show(api, server_id)["security_groups"] == [{"name": "web"}]
    taken = boot(api, [{"uuid": network["id"], "fixed_ip": "10.0.0.5"}])
    assert taken.status_code == 409
    assert Instance.objects.count() == 1


def test_a_port_passed_in_is_kept_when_the_server_goes(api, private):
    network, _ = private
    made = api.post(
        f"{N}/ports", {"port": {"network_id": network["id"], "name": "mine"}}, format="json"
    )
    port_id = made.json()["port"]["id"]
    response = boot(api, [{"port": port_id}])
    assert response.status_code == 202, response.json()
    server_id = response.json()["server"]["id"]
    assert Port.objects.get(id=port_id).device_id == server_id
    in_use = boot(api, [{"port": port_id}])
    assert in_use.status_code == 409
    own = boot(api, [{"uuid": network["id"]}]).json()["server"]["id"]
    assert api.delete(f"{V}/servers/{server_id}", **LATEST).status_code == 204
    kept = Port.objects.get(id=port_id)
    assert (kept.device_id, kept.binding_host) == ("", "")
    assert api.delete(f"{V}/servers/{own}", **LATEST).status_code == 204
    assert not Port.objects.filter(device_id=own).exists()
    assert list(Port.objects.filter(network_id=network["id"]).values_list("id", flat=True)) == [
        kept.id
    ]


def test_auto_takes_the_projects_only_network_and_none_takes_nothing(api, private):
    network, _ = private
    auto = boot(api, "auto").json()["server"]["id"]
    assert Port.objects.get(device_id=auto).network_id == Network.objects.get(id=network["id"]).id
    bare = boot(api, "none").json()["server"]["id"]
    assert not Port.objects.filter(device_id=bare).exists()
    assert _show(api, bare)["addresses"] == {}
    api.post(f"{N}/networks", {"network": {"name": "second"}}, format="json")
    assert boot(api, "auto").status_code == 409


@pytest.mark.parametrize(
    "networks, status",
    [
        ([{"uuid": "00000000-0000-4000-8000-000000000000"}], 400),
        ([{"uuid": "not-a-uuid"}], 400),
        ([{"port": "00000000-0000-4000-8000-000000000000"}], 400),
    ],
)
def test_unknown_networks_and_ports_are_400_and_write_nothing(api, private, networks, status):
    assert boot(api, networks).status_code == status
    assert Instance.objects.count() == 0


def test_a_full_subnet_fails_the_create_and_writes_nothing(api, private):
    network, subnet = private  # /29: five addresses
    for _ in range(5):
        api.post(f"{N}/ports", {"port": {"network_id": network["id"]}}, format="json")
    response = boot(api, [{"uuid": network["id"]}])
    assert response.status_code == 409
    assert subnet["id"] in response.json()["conflictingRequest"]["message"]
    assert Instance.objects.count() == 0


def test_several_servers_with_one_fixed_ip_or_port_is_400(api, private):
    network, _ = private
    assert (
        boot(api, [{"uuid": network["id"], "fixed_ip": "10.0.0.5"}], max_count=2).status_code == 400
    )


def test_other_projects_network_is_400_and_external_is_403(api, admin_api, private):
    theirs = admin_api.post(f"{N}/networks", {"network": {"name": "admins"}}, format="json")
    assert boot(api, [{"uuid": theirs.json()["network"]["id"]}]).status_code == 400
    public = admin_api.post(
        f"{N}/networks", {"network": {"name": "public", "router:external": True}}, format="json"
    )
    assert boot(api, [{"uuid": public.json()["network"]["id"]}]).status_code == 403


def test_deleting_a_network_a_server_uses_is_409(api, private):
    network, _ = private
    server_id = boot(api, [{"uuid": network["id"]}]).json()["server"]["id"]
    assert api.delete(f"{N}/networks/{network['id']}").status_code == 409
    api.delete(f"{V}/servers/{server_id}", **LATEST)
    assert api.delete(f"{N}/networks/{network['id']}").status_code == 204


def test_os_interface_list_and_state_checks(api, private):
    network, _ = private
    server_id = boot(api, [{"uuid": network["id"]}]).json()["server"]["id"]
    listed = api.get(f"{V}/servers/{server_id}/os-interface", **LATEST).json()
    [attachment] = listed["interfaceAttachments"]
    port = Port.objects.get(device_id=server_id)
    assert attachment["port_id"] == str(port.id) and attachment["net_id"] == network["id"]
    assert attachment["mac_addr"] == port.mac_address
    assert attachment["fixed_ips"][0]["ip_address"] == port.fixed_ips.get().ip_address
    one = api.get(f"{V}/servers/{server_id}/os-interface/{port.id}", **LATEST)
    assert one.json()["interfaceAttachment"]["port_id"] == str(port.id)
    # Still building: no attach (Nova's state check).
    attach = {"interfaceAttachment": {"net_id": network["id"]}}
    assert (
        api.post(
            f"{V}/servers/{server_id}/os-interface", attach, format="json", **LATEST
        ).status_code
        == 409
    )


def test_os_interface_attach_and_detach_on_an_active_server(api, private):
    """On a host too old to hot-plug (payload 1.9): the ports are made, taken and bound
    there, and reach the guest at its next build (tests/integration/ has the host)."""
    from cloud.hosts.models import ComputeNode

    network, _ = private
    server_id = create_server(api, "vm")["id"]
    ComputeNode.objects.create(host="h1", payload_version="1.9")
    Instance.objects.filter(uuid=server_id).update(vm_state="active", task_state=None, host="h1")
    attach = {
        "interfaceAttachment": {"net_id": network["id"], "fixed_ips": [{"ip_address": "10.0.0.6"}]}
    }
    response = api.post(f"{V}/servers/{server_id}/os-interface", attach, format="json", **LATEST)
    assert response.status_code == 200, response.json()
    body = response.json()["interfaceAttachment"]
    assert body["fixed_ips"][0]["ip_address"] == "10.0.0.6"
    port = Port.objects.get(device_id=server_id)
    assert port.binding_host == "h1"
    mine = api.post(f"{N}/ports", {"port": {"network_id": network["id"]}}, format="json").json()[
        "port"
    ]
    by_port = {"interfaceAttachment": {"port_id": mine["id"]}}
    assert (
        api.post(
            f"{V}/servers/{server_id}/os-interface", by_port, format="json", **LATEST
        ).status_code
        == 200
    )
    assert len(_show(api, server_id)["addresses"]["private"]) == 2
    assert (
        api.delete(f"{V}/servers/{server_id}/os-interface/{port.id}", **LATEST).status_code == 202
    )
    assert not Port.objects.filter(id=port.id).exists()
    assert (
        api.delete(f"{V}/servers/{server_id}/os-interface/{mine['id']}", **LATEST).status_code
        == 202
    )
    assert Port.objects.get(id=mine["id"]).device_id == ""
    gone = api.delete(f"{V}/servers/{server_id}/os-interface/{mine['id']}", **LATEST)
    assert gone.status_code == 404


def test_floating_ip_via_neutron_shows_in_addresses(api, admin_api, private):
    network, _ = private
    public = admin_api.post(
        f"{N}/networks", {"network": {"name": "public", "router:external": True}}, format="json"
    ).json()["network"]
    admin_api.post(
        f"{N}/subnets",
        {"subnet": {"network_id": public["id"], "cidr": "172.24.4.0/24", "ip_version": 4}},
        format="json",
    )
    server_id = boot(api, [{"uuid": network["id"]}]).json()["server"]["id"]
    port = Port.objects.get(device_id=server_id)
    floating = api.post(
        f"{N}/floatingips",
        {"floatingip": {"floating_network_id": public["id"], "port_id": str(port.id)}},
        format="json",
    ).json()["floatingip"]
    kinds = [a["OS-EXT-IPS:type"] for a in _show(api, server_id)["addresses"]["private"]]
    assert kinds == ["fixed", "floating"]
    assert floating["fixed_ip_address"] == port.fixed_ips.get().ip_address
    assert SecurityGroup.objects.filter(is_default=True).count() == 1


@override_settings(SYNC_CALL_TIMEOUT=0.5)
def test_os_interface_attach_undone_when_the_host_does_not_answer(api, private):
    """No worker answers on the host's queue: 504, and the port made for the attach is
    gone; a port passed in is unbound and kept."""
    network, _ = private
    server_id = create_server(api, "vm")["id"]
    Instance.objects.filter(uuid=server_id).update(vm_state="active", task_state=None, host="h2")
    attach = {"interfaceAttachment": {"net_id": network["id"]}}
    response = api.post(f"{V}/servers/{server_id}/os-interface", attach, format="json", **LATEST)
    assert response.status_code == 504, response.json()
    assert not Port.objects.filter(device_id=server_id).exists()
    mine = api.post(f"{N}/ports", {"port": {"network_id": network["id"]}}, format="json").json()[
        "port"
    ]
    by_port = {"interfaceAttachment": {"port_id": mine["id"]}}
    response = api.post(f"{V}/servers/{server_id}/os-interface", by_port, format="json", **LATEST)
    assert response.status_code == 504
    kept = Port.objects.get(id=mine["id"])
    assert (kept.device_id, kept.binding_host) == ("", "")
