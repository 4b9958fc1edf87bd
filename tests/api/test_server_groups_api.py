"""os-server-groups, and what a server create asks of the scheduler: its group and
hints, its zone and an admin's forced host (database only: nothing is scheduled)."""

import json
import uuid

import pytest
from rest_framework.test import APIClient

from cloud.conductor.services import schedule_done, scheduling_request
from cloud.hosts.models import ComputeNode
from cloud.identity.models import Project
from cloud.identity.services import project_user_ensure
from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.instances.models import Instance, InstanceAction, RequestSpec
from cloud.payloads import SchedulerAnswer
from cloud.scheduler.models import ServerGroup, ServerGroupMember
from cloud.scheduler.request import SchedulingRequest
from tests.helpers import PASSWORD, token_for

V = "/compute/v2.1"
GROUPS = f"{V}/os-server-groups"


def mv(version: str) -> dict:
    return {"HTTP_OPENSTACK_API_VERSION": f"compute {version}"}


LATEST = mv("2.96")


@pytest.fixture
def beta_api(seeded) -> APIClient:
    project_user_ensure(project_name="beta", username="bob", password=PASSWORD, role_name="member")
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=token_for("bob", "beta"))
    return client


@pytest.fixture
def reader_api(seeded) -> APIClient:
    project_user_ensure(
        project_name="alpha", username="rita", password=PASSWORD, role_name="reader"
    )
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=token_for("rita", "alpha"))
    return client


def alpha_id() -> str:
    return Project.objects.get(name="alpha").id


def create_group(client, name="g1", policy="anti-affinity", rules=None, version="2.64"):
    if version < "2.64":
        body = {"name": name, "policies": [policy]}
    else:
        body = {"name": name, "policy": policy}
    if rules is not None:
        body["rules"] = rules
    reply = client.post(GROUPS, {"server_group": body}, format="json", **mv(version))
    assert reply.status_code == 200, reply.content
    return reply.json()["server_group"]


def boot(client, name="vm", hints=None, hints_key="os:scheduler_hints", **server):
    body = {
        "server": {
            "name": name,
            "imageRef": TINY_IMAGE_ID,
            "flavorRef": "1",
            "networks": "none",
            **server,
        }
    }
    if hints is not None:
        body[hints_key] = hints
    return client.post(f"{V}/servers", body, format="json", **LATEST)


def booted(client, **kwargs) -> str:
    reply = boot(client, **kwargs)
    assert reply.status_code == 202, reply.content
    return reply.json()["server"]["id"]


def test_create_and_show_per_microversion(api):
    old = api.post(
        GROUPS, {"server_group": {"name": "old", "policies": ["affinity"]}}, format="json"
    )
    assert old.status_code == 200, old.content
    body = old.json()["server_group"]
    assert body == {
        "id": body["id"],
        "name": "old",
        "policies": ["affinity"],
        "metadata": {},
        "members": [],
    }
    group = ServerGroup.objects.get(uuid=body["id"])
    assert (group.project_id, group.policy, group.rules) == (alpha_id(), "affinity", {})

    at_213 = api.get(f"{GROUPS}/{body['id']}", **mv("2.13")).json()["server_group"]
    assert at_213["project_id"] == alpha_id() and at_213["user_id"] == group.user_id
    assert "policy" not in at_213

    new = create_group(api, "new", rules={"max_server_per_host": "2"}, version="2.96")
    assert new == {
        "id": new["id"],
        "name": "new",
        "policy": "anti-affinity",
        "rules": {"max_server_per_host": 2},
        "members": [],
        "project_id": alpha_id(),
        "user_id": group.user_id,
    }
    assert ServerGroup.objects.get(uuid=new["id"]).rules == {"max_server_per_host": 2}
    soft = create_group(api, "soft", policy="soft-anti-affinity", version="2.15")
    assert soft["policies"] == ["soft-anti-affinity"]


@pytest.mark.parametrize(
    ("version", "body"),
    [
        ("2.1", {"name": "g", "policies": ["soft-affinity"]}),
        ("2.1", {"name": "g", "policies": ["affinity", "anti-affinity"]}),
        ("2.1", {"name": "g", "policies": []}),
        ("2.1", {"name": "g", "policy": "affinity"}),
        ("2.63", {"name": "g", "policies": ["affinity"], "rules": {}}),
        ("2.64", {"name": "g", "policies": ["affinity"]}),
        ("2.64", {"name": "g", "policy": "closeness"}),
        ("2.64", {"name": "g", "policy": "affinity", "rules": {"max_server_per_host": 2}}),
        ("2.64", {"name": "g", "policy": "anti-affinity", "rules": {"max_server_per_host": 0}}),
        ("2.64", {"name": "g", "policy": "anti-affinity", "rules": {"max_server_per_host": "x"}}),
        ("2.64", {"name": "g", "policy": "anti-affinity", "rules": {"spread": 2}}),
        ("2.64", {"name": "", "policy": "affinity"}),
        ("2.64", {"name": " g", "policy": "affinity"}),
        ("2.64", {"policy": "affinity"}),
        ("2.64", {"name": "g", "policy": "affinity", "metadata": {}}),
    ],
)
def test_bad_creates_are_400_and_write_nothing(api, version, body):
    reply = api.post(GROUPS, {"server_group": body}, format="json", **mv(version))
    assert reply.status_code == 400, reply.content
    assert "badRequest" in reply.json()
    assert not ServerGroup.objects.exists()


def test_list_is_the_project_s_and_all_projects_is_for_admins(api, beta_api, admin_api):
    mine = [create_group(api, f"a{i}")["id"] for i in range(3)]
    theirs = create_group(beta_api, "b")["id"]
    assert [g["id"] for g in api.get(GROUPS).json()["server_groups"]] == mine
    assert [g["id"] for g in beta_api.get(GROUPS).json()["server_groups"]] == [theirs]
    assert api.get(f"{GROUPS}?all_projects=True").status_code == 403
    every = admin_api.get(f"{GROUPS}?all_projects=True").json()["server_groups"]
    assert [g["id"] for g in every] == [*mine, theirs]
    assert admin_api.get(GROUPS).json()["server_groups"] == []
    page = api.get(f"{GROUPS}?limit=1&offset=1").json()["server_groups"]
    assert [g["id"] for g in page] == mine[1:2]
    assert api.get(f"{GROUPS}?limit=x").status_code == 400
    assert api.get(f"{GROUPS}?colour=red", **mv("2.74")).status_code == 200
    assert api.get(f"{GROUPS}?colour=red", **mv("2.75")).status_code == 400


def test_another_project_s_group_is_not_found(api, beta_api, admin_api):
    theirs = create_group(beta_api, "b")
    url = f"{GROUPS}/{theirs['id']}"
    for reply in (api.get(url), api.delete(url)):
        assert reply.status_code == 404
        assert reply.json()["itemNotFound"]["message"] == (
            f"Instance group {theirs['id']} could not be found."
        )
    assert api.get(f"{GROUPS}/not-a-uuid").status_code == 404
    assert admin_api.get(url).status_code == 200
    assert ServerGroup.objects.filter(uuid=theirs["id"]).exists()
    assert admin_api.delete(url).status_code == 204
    assert beta_api.get(url).status_code == 404


def test_readers_list_and_show_but_do_not_write(api, reader_api):
    group = create_group(api)
    assert reader_api.get(GROUPS).status_code == 200
    assert reader_api.get(f"{GROUPS}/{group['id']}").status_code == 200
    assert reader_api.delete(f"{GROUPS}/{group['id']}").status_code == 403
    refused = reader_api.post(
        GROUPS, {"server_group": {"name": "r", "policies": ["affinity"]}}, format="json"
    )
    assert refused.status_code == 403
    assert ServerGroup.objects.count() == 1


def test_servers_join_their_group_and_leave_it_when_deleted(api):
    group = create_group(api, policy="affinity")
    server_id = booted(api, hints={"group": group["id"]})
    spec = RequestSpec.objects.get(instance_uuid=server_id)
    assert str(spec.group_uuid) == group["id"] and spec.user_id
    member = ServerGroupMember.objects.get(instance_uuid=server_id)
    assert member.host is None and str(member.group.uuid) == group["id"]
    shown = api.get(f"{GROUPS}/{group['id']}", **LATEST).json()["server_group"]
    assert shown["members"] == [server_id]
    server = api.get(f"{V}/servers/{server_id}", **mv("2.71")).json()["server"]
    assert server["server_groups"] == [group["id"]]
    assert "server_groups" not in api.get(f"{V}/servers/{server_id}", **mv("2.70")).json()["server"]
    listed = api.get(f"{V}/servers/detail", **LATEST).json()["servers"]
    assert "server_groups" not in listed[0]

    assert api.delete(f"{V}/servers/{server_id}").status_code == 204
    assert not ServerGroupMember.objects.exists()
    assert api.get(f"{GROUPS}/{group['id']}").json()["server_group"]["members"] == []


def test_a_claim_landing_after_the_delete_leaves_no_member(api):
    group = create_group(api)
    server_id = booted(api, hints={"group": group["id"]})
    assert api.delete(f"{V}/servers/{server_id}").status_code == 204
    # The scheduler's claim, already under way, records the member on its host again.
    ServerGroupMember.objects.create(
        group=ServerGroup.objects.get(uuid=group["id"]), instance_uuid=server_id, host="hv-1"
    )
    schedule_done(
        selection=SchedulerAnswer(instance_uuid=server_id, request_id="req-1", host="hv-1")
    )
    assert not ServerGroupMember.objects.exists()


def test_deleting_a_group_leaves_its_servers(api):
    group = create_group(api)
    server_id = booted(api, hints={"group": group["id"]})
    assert api.delete(f"{GROUPS}/{group['id']}").status_code == 204
    assert not ServerGroup.objects.exists() and not ServerGroupMember.objects.exists()
    shown = api.get(f"{V}/servers/{server_id}", **LATEST).json()["server"]
    assert shown["server_groups"] == []


def test_scheduler_hints(api, beta_api):
    group = create_group(api)
    theirs = create_group(beta_api, "b")
    # The servers a hint names are the caller's own (tests/api/test_bad_input.py).
    other, another = booted(api), booted(api)
    server_id = booted(
        api,
        hints={
            "same_host": other.upper(),
            "different_host": [other, another],
            "build_near_host_ip": "10.0.0.1",  # a Nova hint no filter here reads: ignored
        },
        hints_key="OS-SCH-HNT:scheduler_hints",
    )
    spec = RequestSpec.objects.get(instance_uuid=server_id)
    assert spec.hints == {"same_host": [other], "different_host": [other, another]}
    assert spec.group_uuid is None and spec.forced_host is None

    for hints, message in (
        ({"group": theirs["id"]}, f"Instance group {theirs['id']} could not be found."),
        ({"group": str(uuid.uuid4())}, "could not be found"),
        ({"group": "g1"}, "group"),
        ({"group": group["id"], "same_host": "nope"}, "same_host"),
        ({"different_host": [other, 7]}, "different_host"),
        ("group=x", "os:scheduler_hints"),
    ):
        reply = boot(api, hints=hints)
        assert reply.status_code == 400, (hints, reply.content)
        assert message in reply.json()["badRequest"]["message"]
    assert Instance.objects.count() == 3 and not ServerGroupMember.objects.exists()


def test_query_hint(api):
    query = ["and", [">=", "$free_ram_mb", 1024], ["in", "$hypervisor_type", "QEMU", "KVM"]]
    text = json.dumps(query)
    # As Nova takes it (a JSON string), or already decoded.
    for given in (json.dumps(query, indent=1), query):
        server_id = booted(api, hints={"query": given})
        spec = RequestSpec.objects.get(instance_uuid=server_id)
        assert spec.hints == {"query": text}
        asked = scheduling_request(spec, Instance.objects.get(uuid=server_id))
        assert asked.to_dict()["query"] == text
        assert SchedulingRequest.from_dict(asked.to_dict()).query == text
    server_id = booted(api, hints={"query": ""})  # empty: no query, as in Nova
    spec = RequestSpec.objects.get(instance_uuid=server_id)
    assert spec.hints == {}
    assert scheduling_request(spec, Instance.objects.get(uuid=server_id)).query == ""

    written = (
        Instance.objects.count(),
        RequestSpec.objects.count(),
        InstanceAction.objects.count(),
    )
    for given, problem in (
        ("[>=", "not valid JSON (Expecting value: line 1 column 2 (char 1))"),
        (["~", "$host", "a"], 'unknown operator "~"'),
        (["=", "$ram", 1], "unknown variable $ram (known: $host,"),
        (["not", True, False], "'not' takes one operand: [\"not\", true, false]"),
        ([">=", "$free_ram_mb"], "'>=' takes at least two operands"),
        ([">=", "$free_ram_mb", "1024"], "'>=' compares number with string"),
        ({"op": ">="}, "must be a JSON string or list"),
    ):
        reply = boot(api, hints={"query": given})
        assert reply.status_code == 400, (given, reply.content)
        (error,) = reply.json().values()
        assert list(reply.json()) == ["badRequest"] and error["code"] == 400
        message = error["message"]
        assert message.startswith("Invalid input for field/attribute query: "), message
        assert problem in message, (given, message)
    assert written == (
        Instance.objects.count(),
        RequestSpec.objects.count(),
        InstanceAction.objects.count(),
    )


def test_group_quotas(api, admin_api):
    pid = alpha_id()

    def set_quota(**limits):
        reply = admin_api.put(
            f"{V}/os-quota-sets/{pid}", {"quota_set": limits}, format="json", **LATEST
        )
        assert reply.status_code == 200, reply.content

    set_quota(server_groups=2, server_group_members=2)
    first = create_group(api, "one")
    create_group(api, "two")
    over = api.post(
        GROUPS, {"server_group": {"name": "three", "policy": "affinity"}}, format="json", **LATEST
    )
    assert over.status_code == 403
    assert over.json()["forbidden"]["message"] == "Quota exceeded, too many server groups."
    detail = api.get(f"{V}/os-quota-sets/{pid}/detail", **LATEST).json()["quota_set"]
    assert detail["server_groups"]["in_use"] == 2
    assert detail["server_group_members"] == {"limit": 2, "in_use": 0, "reserved": 0}

    hints = {"group": first["id"]}
    too_many = boot(api, hints=hints, min_count=3)
    assert too_many.status_code == 403
    assert too_many.json()["forbidden"]["message"] == "Quota exceeded, too many servers in group"
    assert not Instance.objects.exists()
    members = [booted(api, hints=hints) for _ in range(2)]
    assert boot(api, hints=hints).status_code == 403
    assert booted(api) and Instance.objects.count() == 3  # outside any group: no limit
    assert api.delete(f"{V}/servers/{members[0]}").status_code == 204
    assert booted(api, hints=hints)

    assert api.delete(f"{GROUPS}/{first['id']}").status_code == 204
    assert create_group(api, "three")


def test_zone_host_is_for_admins_and_the_host_must_exist(api, admin_api):
    ComputeNode.objects.create(host="hv-1", hypervisor_hostname="hv-1.example")
    ComputeNode.objects.create(host="hv-2")
    refused = boot(api, availability_zone="nova:hv-1")
    assert refused.status_code == 403 and not Instance.objects.exists()

    for zone, expected in (
        ("nova:hv-1", ("nova", "hv-1")),
        (":hv-2", (None, "hv-2")),
        ("nova:hv-1:hv-1.example", ("nova", "hv-1")),
        ("nova::hv-1.example", ("nova", "hv-1")),
        ("nova", ("nova", None)),
    ):
        server_id = booted(admin_api, availability_zone=zone)
        spec = RequestSpec.objects.get(instance_uuid=server_id)
        assert (spec.availability_zone, spec.forced_host) == expected, zone
    for zone, message in (
        ("nova:hv-9", "Compute host hv-9 not found."),
        ("nova:hv-2:hv-1.example", "not found"),
        ("mars:hv-1", "The requested availability zone is not available"),
        ("a:b:c:d", "Unable to parse availability_zone"),
    ):
        reply = boot(admin_api, availability_zone=zone)
        assert reply.status_code == 400, (zone, reply.content)
        assert message in reply.json()["badRequest"]["message"]
