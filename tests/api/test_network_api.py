"""The Neutron v2.0 subset over HTTP: networks (VLAN segments chosen or named),
subnets (pools, gateway, DNS, DHCP), ports (fixed IPs, MAC), security groups and
rules (the project's default group), floating IPs on external networks, quotas,
extensions and the version documents; every failure a Neutron error body, nothing
written."""

import pytest
from django.test import override_settings

from cloud.identity.services import project_user_ensure
from cloud.network.models import IPAllocation, Network, Port, SecurityGroup, Subnet, VlanAllocation
from tests.helpers import PASSWORD, token_for

N = "/network/v2.0"


def post(client, path, key, body):
    return client.post(f"{N}/{path}", {key: body}, format="json")


def net(client, **body):
    response = post(client, "networks", "network", {"name": "n", **body})
    assert response.status_code == 201, response.json()
    return response.json()["network"]


def subnet(client, network_id, cidr="10.0.0.0/24", **body):
    response = post(
        client,
        "subnets",
        "subnet",
        {"network_id": network_id, "cidr": cidr, "ip_version": 4, **body},
    )
    assert response.status_code == 201, response.json()
    return response.json()["subnet"]


def port(client, network_id, **body):
    response = post(client, "ports", "port", {"network_id": network_id, **body})
    assert response.status_code == 201, response.json()
    return response.json()["port"]


def neutron_error(response, status, kind=None):
    assert response.status_code == status, response.content
    error = response.json()["NeutronError"]
    assert set(error) == {"type", "message", "detail"}
    if kind:
        assert error["type"] == kind, error
    return error["message"]


@pytest.fixture
def beta(seeded):
    from rest_framework.test import APIClient

    project_user_ensure(project_name="beta", username="bob", password=PASSWORD, role_name="member")
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=token_for("bob", "beta"))
    return client


def test_version_documents_are_anonymous(client, db):
    versions = client.get("/network").json()["versions"]
    assert versions[0]["id"] == "v2.0" and versions[0]["status"] == "CURRENT"
    assert versions[0]["links"][0]["href"].endswith("/network/v2.0/")
    resources = client.get(f"{N}/").json()["resources"]
    assert {r["collection"] for r in resources} >= {"networks", "subnets", "ports"}


def test_extensions_list_and_show(api):
    aliases = {e["alias"] for e in api.get(f"{N}/extensions").json()["extensions"]}
    assert {"security-group", "provider", "external-net", "binding", "quotas"} <= aliases
    assert api.get(f"{N}/extensions/provider").json()["extension"]["alias"] == "provider"
    neutron_error(api.get(f"{N}/extensions/Availability%20Zone"), 404)


def test_the_catalog_has_the_network_service(api, seeded):
    from tests.helpers import auth_body

    token = api.post("/identity/v3/auth/tokens", auth_body("alice", "alpha"), format="json")
    catalog = {s["type"]: s for s in token.json()["token"]["catalog"]}
    assert catalog["network"]["endpoints"][0]["url"].endswith("/network")


@override_settings(NETWORK_VLAN_RANGES="physnet1:100:102")
def test_project_networks_get_distinct_vlans_back_to_the_pool_on_delete(api):
    first = net(api, name="a")
    second = net(api, name="b")
    assert first["provider:network_type"] == "vlan"
    assert first["provider:physical_network"] == "physnet1"
    assert {first["provider:segmentation_id"], second["provider:segmentation_id"]} == {100, 101}
    assert api.delete(f"{N}/networks/{first['id']}").status_code == 204
    third = net(api, name="c")
    assert third["provider:segmentation_id"] == 100


@override_settings(NETWORK_VLAN_RANGES="physnet1:100:101")
def test_vlan_range_exhausted_is_503_and_writes_nothing(api):
    net(api, name="a")
    net(api, name="b")
    before = Network.objects.count()
    message = neutron_error(post(api, "networks", "network", {"name": "c"}), 503)
    assert "No tenant network is available" in message
    assert Network.objects.count() == before
    assert VlanAllocation.objects.filter(network__isnull=True).count() == 0


def test_admin_names_a_provider_vlan_and_a_taken_one_is_409(admin_api, api):
    body = {"provider:network_type": "vlan", "provider:segmentation_id": 150}
    made = net(admin_api, name="prov", **body)
    assert made["provider:segmentation_id"] == 150
    outside = net(admin_api, name="prov2", **{**body, "provider:segmentation_id": 3000})
    assert outside["provider:segmentation_id"] == 3000
    before = Network.objects.count()
    neutron_error(post(admin_api, "networks", "network", {"name": "x", **body}), 409, "VlanIdInUse")
    again = {**body, "provider:segmentation_id": 3000}
    neutron_error(
        post(admin_api, "networks", "network", {"name": "y", **again}), 409, "VlanIdInUse"
    )
    assert Network.objects.count() == before
    neutron_error(post(api, "networks", "network", {"name": "z", **body}), 403)
    neutron_error(post(api, "networks", "network", {"name": "z", "shared": True}), 403)
    neutron_error(post(admin_api, "networks", "network", {"provider:network_type": "gre"}), 400)


def test_network_show_list_set_and_lookup_by_name(api):
    made = net(api, name="private")
    assert api.get(f"{N}/networks/{made['id']}").json()["network"]["name"] == "private"
    found = api.get(f"{N}/networks?name=private").json()["networks"]
    assert [n["id"] for n in found] == [made["id"]]
    neutron_error(api.get(f"{N}/networks/private"), 404, "NetworkNotFound")
    response = api.put(
        f"{N}/networks/{made['id']}", {"network": {"name": "renamed"}}, format="json"
    )
    assert response.json()["network"]["name"] == "renamed"
    assert response.json()["network"]["revision_number"] == 1
    neutron_error(
        api.put(f"{N}/networks/{made['id']}", {"network": {"bogus": 1}}, format="json"), 400
    )


def test_subnet_defaults_pools_gateway_dns_and_dhcp(api):
    network = net(api)
    made = subnet(api, network["id"], dns_nameservers=["8.8.8.8"], enable_dhcp=False)
    assert made["gateway_ip"] == "10.0.0.1"
    assert made["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert made["dns_nameservers"] == ["8.8.8.8"] and made["enable_dhcp"] is False
    assert api.get(f"{N}/networks/{network['id']}").json()["network"]["subnets"] == [made["id"]]
    other = net(api, name="o")
    pools = [{"start": "10.1.0.10", "end": "10.1.0.20"}]
    custom = subnet(api, other["id"], "10.1.0.0/24", gateway_ip=None, allocation_pools=pools)
    assert custom["gateway_ip"] is None and custom["allocation_pools"] == pools


@pytest.mark.parametrize(
    "body, status",
    [
        ({"cidr": "10.0.0.5/24"}, 400),
        ({"cidr": "nonsense"}, 400),
        ({"cidr": "10.0.0.0/24", "gateway_ip": "192.168.0.1"}, 400),
        (
            {"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.1.1", "end": "10.0.1.5"}]},
            400,
        ),
        (
            {"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.1", "end": "10.0.0.5"}]},
            409,
        ),
        ({"cidr": "10.0.0.0/24", "dns_nameservers": ["not-an-ip"]}, 400),
        ({"cidr": "10.0.0.0/24", "ip_version": 6}, 400),
    ],
)
def test_bad_subnets_are_refused_and_write_nothing(api, body, status):
    network = net(api)
    response = post(
        api, "subnets", "subnet", {"network_id": network["id"], "ip_version": 4, **body}
    )
    neutron_error(response, status)
    assert Subnet.objects.count() == 0


def test_overlapping_subnet_is_400(api):
    network = net(api)
    subnet(api, network["id"])
    response = post(
        api, "subnets", "subnet", {"network_id": network["id"], "cidr": "10.0.0.128/25"}
    )
    assert "overlaps" in neutron_error(response, 400)


def test_port_gets_an_address_a_mac_and_the_default_group(api):
    network = net(api)
    sub = subnet(api, network["id"])
    made = port(api, network["id"], name="p1")
    assert made["fixed_ips"] == [
        {"subnet_id": sub["id"], "ip_address": made["fixed_ips"][0]["ip_address"]}
    ]
    assert made["mac_address"].startswith("fa:16:3e:")
    assert made["status"] == "DOWN" and made["binding:vif_type"] == "unbound"
    default = SecurityGroup.objects.get(is_default=True)
    assert made["security_groups"] == [str(default.id)]


def test_port_with_a_fixed_ip_and_mac_and_their_conflicts(api):
    network = net(api)
    sub = subnet(api, network["id"])
    fixed = [{"subnet_id": sub["id"], "ip_address": "10.0.0.50"}]
    made = port(api, network["id"], fixed_ips=fixed, mac_address="fa:16:3e:00:00:01")
    assert made["fixed_ips"][0]["ip_address"] == "10.0.0.50"
    assert made["mac_address"] == "fa:16:3e:00:00:01"
    count = Port.objects.count()
    again = post(api, "ports", "port", {"network_id": network["id"], "fixed_ips": fixed})
    assert sub["id"] in neutron_error(again, 409, "IpAddressAlreadyAllocated")
    mac = post(
        api, "ports", "port", {"network_id": network["id"], "mac_address": "fa:16:3e:00:00:01"}
    )
    neutron_error(mac, 409, "MacAddressInUse")
    outside = post(
        api,
        "ports",
        "port",
        {"network_id": network["id"], "fixed_ips": [{"ip_address": "10.9.9.9"}]},
    )
    neutron_error(outside, 400)
    gateway = post(
        api,
        "ports",
        "port",
        {"network_id": network["id"], "fixed_ips": [{"ip_address": "10.0.0.1"}]},
    )
    neutron_error(gateway, 409)
    assert Port.objects.count() == count
    by_address = port(api, network["id"], fixed_ips=[{"ip_address": "10.0.0.60"}])
    assert by_address["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.0.0.60"}]


def test_a_full_subnet_is_409_naming_it(api):
    network = net(api)
    sub = subnet(api, network["id"], "10.0.0.0/29")  # .2 - .6: five addresses
    for _ in range(5):
        port(api, network["id"])
    response = post(api, "ports", "port", {"network_id": network["id"]})
    assert sub["id"] in neutron_error(response, 409, "IpAddressGenerationFailure")
    assert Port.objects.filter(network_id=network["id"]).count() == 5


def test_port_set_replaces_fixed_ips_and_list_filters(api):
    network = net(api)
    sub = subnet(api, network["id"])
    made = port(api, network["id"], fixed_ips=[{"ip_address": "10.0.0.10"}])
    fixed = [
        {"subnet_id": sub["id"], "ip_address": "10.0.0.10"},
        {"subnet_id": sub["id"], "ip_address": "10.0.0.11"},
    ]
    response = api.put(
        f"{N}/ports/{made['id']}", {"port": {"fixed_ips": fixed, "name": "x"}}, format="json"
    )
    assert [f["ip_address"] for f in response.json()["port"]["fixed_ips"]] == [
        "10.0.0.10",
        "10.0.0.11",
    ]
    listed = api.get(f"{N}/ports?fixed_ips=ip_address%3D10.0.0.11&fields=id&fields=name").json()[
        "ports"
    ]
    assert listed == [{"id": made["id"], "name": "x"}]
    assert api.get(f"{N}/ports?network_id={network['id']}").json()["ports"][0]["id"] == made["id"]
    assert api.delete(f"{N}/ports/{made['id']}").status_code == 204
    assert IPAllocation.objects.count() == 0


def test_network_with_ports_is_409_and_subnet_in_use_is_409(api):
    network = net(api)
    sub = subnet(api, network["id"])
    made = port(api, network["id"])
    neutron_error(api.delete(f"{N}/networks/{network['id']}"), 409, "NetworkInUse")
    neutron_error(api.delete(f"{N}/subnets/{sub['id']}"), 409, "SubnetInUse")
    api.delete(f"{N}/ports/{made['id']}")
    assert api.delete(f"{N}/networks/{network['id']}").status_code == 204
    assert Subnet.objects.count() == 0


def test_default_security_group_made_on_first_use(api):
    groups = api.get(f"{N}/security-groups").json()["security_groups"]
    assert [g["name"] for g in groups] == ["default"]
    rules = groups[0]["security_group_rules"]
    assert sorted((r["direction"], r["ethertype"], bool(r["remote_group_id"])) for r in rules) == [
        ("egress", "IPv4", False),
        ("egress", "IPv6", False),
        ("ingress", "IPv4", True),
        ("ingress", "IPv6", True),
    ]
    assert len(api.get(f"{N}/security-groups").json()["security_groups"]) == 1
    neutron_error(api.delete(f"{N}/security-groups/{groups[0]['id']}"), 409)


def test_security_group_and_rules(api):
    made = post(api, "security-groups", "security_group", {"name": "web", "description": "w"})
    assert made.status_code == 201
    group = made.json()["security_group"]
    assert len(group["security_group_rules"]) == 2
    rule = {
        "security_group_id": group["id"],
        "direction": "ingress",
        "protocol": "tcp",
        "port_range_min": 22,
        "port_range_max": 22,
        "remote_ip_prefix": "0.0.0.0/0",
        "ethertype": "IPv4",
    }
    created = post(api, "security-group-rules", "security_group_rule", rule)
    assert created.status_code == 201, created.json()
    body = created.json()["security_group_rule"]
    assert (body["protocol"], body["port_range_min"], body["remote_ip_prefix"]) == (
        "tcp",
        22,
        "0.0.0.0/0",
    )
    neutron_error(
        post(api, "security-group-rules", "security_group_rule", rule),
        409,
        "SecurityGroupRuleExists",
    )
    for bad in (
        {"protocol": "tcp", "port_range_min": 70000},
        {"protocol": "bogus"},
        {"direction": "sideways"},
        {"remote_ip_prefix": "::/0"},
    ):
        neutron_error(
            post(api, "security-group-rules", "security_group_rule", {**rule, **bad}), 400
        )
    listed = api.get(f"{N}/security-group-rules?security_group_id={group['id']}").json()
    assert len(listed["security_group_rules"]) == 3
    assert api.delete(f"{N}/security-group-rules/{body['id']}").status_code == 204
    network = net(api)
    subnet(api, network["id"])
    used = port(api, network["id"], security_groups=[group["id"]])
    neutron_error(api.delete(f"{N}/security-groups/{group['id']}"), 409, "SecurityGroupInUse")
    api.delete(f"{N}/ports/{used['id']}")
    assert api.delete(f"{N}/security-groups/{group['id']}").status_code == 204


def test_floating_ips_on_an_external_network(admin_api, api):
    public = net(admin_api, name="public", **{"router:external": True})
    subnet(admin_api, public["id"], "172.24.4.0/24")
    assert any(n["id"] == public["id"] for n in api.get(f"{N}/networks").json()["networks"])
    assert api.get(f"{N}/networks?router:external=True").json()["networks"][0]["id"] == public["id"]
    private = net(api)
    subnet(api, private["id"])
    target = port(api, private["id"])
    made = post(api, "floatingips", "floatingip", {"floating_network_id": public["id"]})
    assert made.status_code == 201, made.json()
    floating = made.json()["floatingip"]
    assert floating["floating_ip_address"].startswith("172.24.4.") and floating["port_id"] is None
    response = api.put(
        f"{N}/floatingips/{floating['id']}",
        {"floatingip": {"port_id": target["id"]}},
        format="json",
    )
    assert response.json()["floatingip"]["fixed_ip_address"] == target["fixed_ips"][0]["ip_address"]
    response = api.put(
        f"{N}/floatingips/{floating['id']}", {"floatingip": {"port_id": None}}, format="json"
    )
    assert response.json()["floatingip"]["port_id"] is None
    neutron_error(
        post(api, "floatingips", "floatingip", {"floating_network_id": private["id"]}), 400
    )
    assert api.delete(f"{N}/floatingips/{floating['id']}").status_code == 204
    assert not Port.objects.filter(network_id=public["id"]).exists()


def test_quotas_show_and_enforced(api, seeded):
    from cloud.identity.models import Project
    from cloud.identity.quotas import quota_set_update  # noqa: F401 - the rows below

    project = Project.objects.get(name="alpha")
    quota = api.get(f"{N}/quotas/{project.id}").json()["quota"]
    assert quota["network"] == 100 and quota["port"] == 500
    with override_settings(NETWORK_QUOTA_DEFAULTS={**_defaults(), "network": 1}):
        net(api, name="one")
        before = Network.objects.count()
        neutron_error(post(api, "networks", "network", {"name": "two"}), 409, "OverQuota")
        assert Network.objects.count() == before
        details = api.get(f"{N}/quotas/{project.id}/details").json()["quota"]
        assert details["network"] == {"limit": 1, "used": 1, "reserved": 0}


def test_quota_delete_resets_the_network_limits_only(api, admin_api, seeded):
    """Neutron's DELETE /quotas/{project} (what `openstack quota delete` sends): admin
    only; the project's network limits go back to the defaults, its compute ones stay."""
    from cloud.identity.models import Project, Quota

    project = Project.objects.get(name="alpha")
    for resource, limit in (("network", 3), ("instances", 4)):
        Quota.objects.create(project=project, resource=resource, hard_limit=limit)
    assert api.delete(f"{N}/quotas/{project.id}").status_code == 403
    assert api.get(f"{N}/quotas/{project.id}").json()["quota"]["network"] == 3
    assert admin_api.delete(f"{N}/quotas/{project.id}/details").status_code == 405
    assert admin_api.delete(f"{N}/quotas/{project.id}").status_code == 204
    assert api.get(f"{N}/quotas/{project.id}").json()["quota"]["network"] == 100
    kept = Quota.objects.filter(project=project).values_list("resource", "hard_limit")
    assert list(kept) == [("instances", 4)]


def test_quota_update_sets_the_network_limits(api, admin_api, seeded):
    """Neutron's PUT /quotas/{project} (what `openstack quota set --networks --ports`
    sends): admin only; the limits given change, the others stay; bad values and
    resources Neutron does not count are a 400 with nothing written; a limit below the
    usage passes unless check_limit asks (as in Neutron); then it is enforced."""
    from cloud.identity.models import Project, Quota

    project = Project.objects.get(name="alpha")
    url = f"{N}/quotas/{project.id}"
    body = {"quota": {"network": 1, "port": 7}}
    neutron_error(api.put(url, body, format="json"), 403)
    response = admin_api.put(url, body, format="json")
    assert response.status_code == 200, response.content
    quota = response.json()["quota"]
    assert quota["network"] == 1 and quota["port"] == 7 and quota["subnet"] == 100
    assert api.get(url).json()["quota"] == quota
    for bad in (
        {"network": "many"},
        {"network": -2},
        {"network": True},
        {"instances": 3},
        {"network": 2, "routers": 1},
    ):
        neutron_error(admin_api.put(url, {"quota": bad}, format="json"), 400)
    neutron_error(admin_api.put(url, {"network": 2}, format="json"), 400)
    missing = f"{N}/quotas/{'0' * 32}"
    neutron_error(admin_api.put(missing, body, format="json"), 404)
    assert dict(Quota.objects.filter(project=project).values_list("resource", "hard_limit")) == {
        "network": 1,
        "port": 7,
    }
    net(api, name="only")
    neutron_error(post(api, "networks", "network", {"name": "two"}), 409, "OverQuota")
    over = {"quota": {"network": 0, "check_limit": True}}
    assert "already used" in neutron_error(admin_api.put(url, over, format="json"), 400)
    response = admin_api.put(url, {"quota": {"network": 0}}, format="json")
    assert response.status_code == 200 and response.json()["quota"]["network"] == 0
    response = admin_api.put(url, {"quota": {"network": -1}}, format="json")
    assert response.status_code == 200 and response.json()["quota"]["network"] == -1, (
        response.content
    )
    net(api, name="unlimited")


def _defaults():
    from django.conf import settings

    return dict(settings.NETWORK_QUOTA_DEFAULTS)


def test_other_projects_rows_are_404(api, beta):
    network = net(api)
    subnet(api, network["id"])
    made = port(api, network["id"])
    group = api.get(f"{N}/security-groups").json()["security_groups"][0]
    for path in (
        f"networks/{network['id']}",
        f"ports/{made['id']}",
        f"security-groups/{group['id']}",
    ):
        assert beta.get(f"{N}/{path}").status_code == 404
        assert beta.delete(f"{N}/{path}").status_code == 404
    assert beta.get(f"{N}/networks").json()["networks"] == []
    assert beta.get(f"{N}/ports").json()["ports"] == []
    response = post(beta, "ports", "port", {"network_id": network["id"]})
    neutron_error(response, 404)


def test_shared_networks_are_visible_and_usable(admin_api, beta):
    shared = net(admin_api, name="shared", shared=True)
    sub = subnet(admin_api, shared["id"])
    assert [n["id"] for n in beta.get(f"{N}/networks").json()["networks"]] == [shared["id"]]
    assert beta.get(f"{N}/subnets/{sub['id']}").status_code == 200
    made = port(beta, shared["id"])
    assert made["fixed_ips"][0]["subnet_id"] == sub["id"]
    neutron_error(beta.delete(f"{N}/networks/{shared['id']}"), 403)
