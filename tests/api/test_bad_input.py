"""Hostile input gets a 4xx in the OpenStack shape and writes nothing: one test per cause
of the 500s found by hand (issue 13), then every body the compute, identity and
placement APIs take, with each of its values replaced by values of the wrong type.

The causes: (1) a lone UTF-16 surrogate in a JSON string; (2) digits such as "²" that
str.isdigit() takes; (3) a 23-digit offset that overflows the database; (4) JSON nested
thousands deep; (5) a body over the limit; (6) a microversion with thousands of digits;
(7) unhashable types where a string is expected; (8) values accepted but wrong (a
quota of 10.7, 1e999 in a query hint); (9) a hint naming another project's server.
"""

import copy
import json
import uuid

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from cloud.identity.models import KeyPair, Project, Quota, Token
from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.instances.models import Instance
from cloud.placement.models import CustomResourceClass, Inventory, ResourceProvider
from cloud.scheduler.models import ServerGroup
from tests.helpers import PASSWORD, auth_body

V = "/compute/v2.1"
LATEST = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
PLACEMENT = {"HTTP_OPENSTACK_API_VERSION": "placement 1.39"}


def send(client, method, path, body, **extra):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.generic(method, path, data, content_type="application/json", **extra)


def nova_error(response, code: int) -> str:
    assert response.status_code == code, response.content
    (body,) = response.json().values()
    assert body["code"] == code and body["message"]
    return body["message"]


def keystone_error(response, code: int) -> str:
    assert response.status_code == code, response.content
    error = response.json()["error"]
    assert error["code"] == code and error["title"] and error["message"]
    return error["message"]


def placement_error(response, code: int) -> str:
    assert response.status_code == code, response.content
    (error,) = response.json()["errors"]
    assert error["status"] == code and error["detail"]
    return error["detail"]


def server_body(**extra) -> dict:
    return {
        "server": {
            "name": "vm",
            "imageRef": TINY_IMAGE_ID,
            "flavorRef": "1",
            "networks": "none",
            **extra,
        }
    }


def boot(client, **extra) -> str:
    response = send(client, "POST", f"{V}/servers", server_body(**extra), **LATEST)
    assert response.status_code == 202, response.content
    return response.json()["server"]["id"]


def alpha() -> Project:
    return Project.objects.get(name="alpha")


# --- (1) lone surrogates -----------------------------------------------------------

SURROGATE = '"\\ud800"'


def test_lone_surrogate_in_server_metadata_key_is_400_and_not_stored(api):
    raw = json.dumps(server_body(metadata={"KEY": "v"})).replace('"KEY"', SURROGATE)
    message = nova_error(send(api, "POST", f"{V}/servers", raw, **LATEST), 400)
    assert "Unicode" in message
    assert not Instance.objects.exists()
    assert api.get(f"{V}/servers/detail", **LATEST).status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/os-keypairs", {"keypair": {"name": "SUR"}}),
        ("/os-server-groups", {"server_group": {"name": "SUR", "policy": "affinity"}}),
    ],
)
def test_lone_surrogate_anywhere_in_compute_bodies_is_400(api, path, body):
    raw = json.dumps(body).replace('"SUR"', SURROGATE)
    nova_error(send(api, "POST", f"{V}{path}", raw, **LATEST), 400)
    assert not KeyPair.objects.exists() and not ServerGroup.objects.exists()


def test_lone_surrogate_in_actions_and_quota_sets_is_400(api, admin_api):
    server = boot(api)
    raw = '{"os-resetState": {"state": ' + SURROGATE + "}}"
    nova_error(send(admin_api, "POST", f"{V}/servers/{server}/action", raw, **LATEST), 400)
    assert Instance.objects.get(uuid=server).vm_state == "building"
    raw = '{"quota_set": {"instances": ' + SURROGATE + "}}"
    nova_error(send(admin_api, "PUT", f"{V}/os-quota-sets/{alpha().id}", raw, **LATEST), 400)
    assert not Quota.objects.exists()


def test_lone_surrogate_in_placement_is_400(admin_api):
    raw = '{"name": "CUSTOM_' + SURROGATE[1:]
    placement_error(send(admin_api, "POST", "/placement/resource_classes", raw, **PLACEMENT), 400)
    rp = send(admin_api, "POST", "/placement/resource_providers", {"name": "rp"}, **PLACEMENT)
    rp_uuid = rp.json()["uuid"]
    raw = '{"resource_provider_generation": 0, "inventories": {' + SURROGATE + ": {}}}"
    path = f"/placement/resource_providers/{rp_uuid}/inventories"
    placement_error(send(admin_api, "PUT", path, raw, **PLACEMENT), 400)
    assert not CustomResourceClass.objects.exists() and not Inventory.objects.exists()


def test_lone_surrogate_in_token_creation_is_400(seeded):
    raw = json.dumps(auth_body("alice", "alpha")).replace(f'"{PASSWORD}"', SURROGATE)
    keystone_error(send(APIClient(), "POST", "/identity/v3/auth/tokens", raw), 400)
    raw = '{"auth": {"identity": {"methods": ["token"], "token": {"id": ' + SURROGATE + "}}}}"
    keystone_error(send(APIClient(), "POST", "/identity/v3/auth/tokens", raw), 400)
    assert not Token.objects.exists()


@pytest.mark.parametrize("raw", [b'{"server": "\xff"}', b'{"a": "\\u0000"}', b'{"a": NaN}'])
def test_invalid_utf8_nul_and_nan_are_400(api, raw):
    nova_error(send(api, "POST", f"{V}/servers", raw, **LATEST), 400)


def test_nul_in_url_is_400(api):
    nova_error(api.get(f"{V}/flavors?marker=%00", **LATEST), 400)
    nova_error(api.get(f"{V}/servers/%00", **LATEST), 400)


# --- (2) digits that str.isdigit() takes, (3) numbers the database cannot hold -------


@pytest.mark.parametrize("value", ["²", "٣", "1_0", "+1", "99999999999999999999999"])
def test_odd_digits_and_huge_numbers_in_queries_are_400(api, admin_api, value):
    nova_error(api.get(f"{V}/servers?limit={value}", **LATEST), 400)
    nova_error(api.get(f"{V}/flavors?minRam={value}", **LATEST), 400)
    nova_error(api.get(f"{V}/os-server-groups?offset={value}", **LATEST), 400)
    nova_error(api.get(f"{V}/os-server-groups?limit={value}", **LATEST), 400)
    nova_error(admin_api.get(f"{V}/os-aggregates/{value}", **LATEST), 400)
    path = f"/placement/allocation_candidates?resources=VCPU:{value}"
    placement_error(admin_api.get(path, **PLACEMENT), 400)
    path = f"/placement/allocation_candidates?resources=VCPU:1&limit={value}"
    placement_error(admin_api.get(path, **PLACEMENT), 400)


def test_odd_digits_in_hypervisor_id_and_markers_are_4xx(admin_api):
    old = {"HTTP_OPENSTACK_API_VERSION": "compute 2.52"}
    nova_error(admin_api.get(f"{V}/os-hypervisors/²", **old), 404)
    nova_error(admin_api.get(f"{V}/os-hypervisors/٣" + "0" * 30, **LATEST), 400)
    nova_error(admin_api.get(f"{V}/servers?marker=²", **LATEST), 400)


@pytest.mark.parametrize("length", ["²", "1.5", 1.5, True, [], "9" * 30])
def test_odd_console_length_is_400(admin_api, length):
    server = boot(admin_api)
    body = {"os-getConsoleOutput": {"length": length}}
    nova_error(send(admin_api, "POST", f"{V}/servers/{server}/action", body, **LATEST), 400)


# --- (4) depth, (5) size, (6) microversion digits -----------------------------------


def test_deep_json_is_400(api):
    for depth in (40, 100_000):
        raw = '{"server": ' + "[" * depth + "]" * depth + "}"
        message = nova_error(send(api, "POST", f"{V}/servers", raw, **LATEST), 400)
        assert "nested deeper" in message
    assert not Instance.objects.exists()


@override_settings(API_MAX_BODY_BYTES=4096)
def test_body_over_the_limit_is_413(api, seeded):
    tokens = Token.objects.count()
    big = server_body(metadata={"k": "v" * 5000})
    nova_error(send(api, "POST", f"{V}/servers", big, **LATEST), 413)
    raw = json.dumps(auth_body("alice", "alpha", password="x" * 5000))
    keystone_error(send(APIClient(), "POST", "/identity/v3/auth/tokens", raw), 413)
    assert not Instance.objects.exists() and Token.objects.count() == tokens


@override_settings(API_MAX_BODY_BYTES=4096)
def test_streamed_body_over_the_limit_is_413(api):
    raw = json.dumps(server_body(metadata={"k": "v" * 5000})).encode()
    response = api.generic(
        "POST",
        f"{V}/servers",
        raw,
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
        **LATEST,
    )
    nova_error(response, 413)
    assert not Instance.objects.exists()


@override_settings(API_MAX_BODY_BYTES=4096)
def test_octet_stream_bodies_are_left_to_their_view(api):
    response = api.generic(
        "PUT", f"{V}/servers", b"x" * 5000, content_type="application/octet-stream"
    )
    assert response.status_code not in (413, 500)


@pytest.mark.parametrize(
    ("header", "code"),
    [("compute 2." + "9" * 5000, 400), ("compute 2.٣", 400), ("compute 2.99999", 406)],
)
def test_microversion_with_odd_digits(api, header, code):
    message = nova_error(api.get(f"{V}/servers", HTTP_OPENSTACK_API_VERSION=header), code)
    assert len(message) < 300


# --- (7) types -----------------------------------------------------------------------


@pytest.mark.parametrize("state", [["error"], {"a": 1}, 1, None])
def test_reset_state_with_wrong_types_is_400(api, admin_api, state):
    server = boot(api)
    body = {"os-resetState": {"state": state}}
    nova_error(send(admin_api, "POST", f"{V}/servers/{server}/action", body, **LATEST), 400)
    assert Instance.objects.get(uuid=server).vm_state == "building"


@pytest.mark.parametrize("value", [5, ["x"], {"a": 1}, True, "not-a-uuid"])
def test_block_device_mapping_uuid_of_wrong_type_is_400(api, value):
    bdm = {"uuid": value, "boot_index": 0, "source_type": "image", "destination_type": "local"}
    body = server_body(block_device_mapping_v2=[bdm])
    nova_error(send(api, "POST", f"{V}/servers", body, **LATEST), 400)
    assert not Instance.objects.exists()


# --- (8) accepted but wrong --------------------------------------------------------


@pytest.mark.parametrize("value", [10.7, 10.0, "10.7", "1e3", True])
def test_a_quota_must_be_an_integer(admin_api, value):
    body = {"quota_set": {"instances": value}}
    nova_error(send(admin_api, "PUT", f"{V}/os-quota-sets/{alpha().id}", body, **LATEST), 400)
    assert not Quota.objects.exists()


@pytest.mark.parametrize(
    "query",
    ['[">=", "$free_ram_mb", 1e999]', '["<", "$free_ram_mb", -1e999]'],
)
def test_non_finite_query_hint_is_400(api, query):
    body = {**server_body(), "os:scheduler_hints": {"query": query}}
    message = nova_error(send(api, "POST", f"{V}/servers", body, **LATEST), 400)
    assert "query" in message
    raw = json.dumps(server_body()).replace("{", '{"os:scheduler_hints": {"q": 1e999},', 1)
    nova_error(send(api, "POST", f"{V}/servers", raw, **LATEST), 400)
    assert not Instance.objects.exists()


# --- (9) hints never reveal another project ----------------------------------------


@pytest.mark.parametrize("hint", ["same_host", "different_host"])
def test_a_hint_naming_another_projects_server_is_the_400_of_an_unknown_one(api, admin_api, hint):
    theirs = boot(admin_api)
    unknown = str(uuid.uuid4())
    answers = []
    for named in (theirs, unknown):
        body = {**server_body(), "os:scheduler_hints": {hint: [named]}}
        message = nova_error(send(api, "POST", f"{V}/servers", body, **LATEST), 400)
        answers.append(message.replace(named, "ID"))
    assert answers[0] == answers[1]
    assert Instance.objects.count() == 1
    # The caller's own server and an admin naming anyone's are fine.
    mine = boot(api)
    body = {**server_body(), "os:scheduler_hints": {hint: [mine]}}
    assert send(api, "POST", f"{V}/servers", body, **LATEST).status_code == 202
    body = {**server_body(), "os:scheduler_hints": {hint: [mine, theirs]}}
    assert send(admin_api, "POST", f"{V}/servers", body, **LATEST).status_code == 202


def test_a_group_hint_naming_another_projects_group_is_the_400_of_an_unknown_one(api, admin_api):
    body = {"server_group": {"name": "g", "policy": "affinity"}}
    theirs = send(admin_api, "POST", f"{V}/os-server-groups", body, **LATEST).json()
    answers = []
    for named in (theirs["server_group"]["id"], str(uuid.uuid4())):
        body = {**server_body(), "os:scheduler_hints": {"group": named}}
        message = nova_error(send(api, "POST", f"{V}/servers", body, **LATEST), 400)
        answers.append(message.replace(named, "ID"))
    assert answers[0] == answers[1]
    assert not Instance.objects.exists()


# --- wrong types anywhere in every body ----------------------------------------------

WRONG = ([], {}, 1.5, True, None, "x", "²", -1, 2**40, "", "😀")


def _mutations(body):
    """(path, value) for each place in body: the place replaced by each wrong value."""
    stack = [((), body)]
    while stack:
        path, item = stack.pop()
        for value in WRONG:
            if value != item or type(value) is not type(item):
                yield path, value
        if isinstance(item, dict):
            stack.extend(((*path, k), v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend(((*path, i), v) for i, v in enumerate(item))


def _replaced(body, path, value):
    if not path:
        return value
    copied = copy.deepcopy(body)
    target = copied
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copied


def _compute_bodies(server: str, group: str) -> list[tuple[str, str, dict]]:
    bdm = {"uuid": TINY_IMAGE_ID, "boot_index": 0, "source_type": "image"}
    action = f"{V}/servers/{server}/action"
    return [
        (
            "POST",
            f"{V}/servers",
            server_body(
                metadata={"a": "b"},
                min_count=1,
                block_device_mapping_v2=[bdm],
                **{"os:scheduler_hints": {"same_host": [server], "query": "[]"}},
            ),
        ),
        ("PUT", f"{V}/servers/{server}", {"server": {"name": "n", "description": "d"}}),
        ("POST", f"{V}/os-keypairs", {"keypair": {"name": "k", "type": "ssh"}}),
        ("POST", f"{V}/os-server-groups", {"server_group": {"name": "g", "policy": "affinity"}}),
        (
            "POST",
            f"{V}/os-server-groups",
            {
                "server_group": {
                    "name": "g",
                    "policy": "anti-affinity",
                    "rules": {"max_server_per_host": 2},
                }
            },
        ),
        ("PUT", f"{V}/os-quota-sets/{alpha().id}", {"quota_set": {"instances": 5, "cores": 4}}),
        ("POST", f"{V}/os-aggregates", {"aggregate": {"name": "ag", "availability_zone": "z"}}),
        ("PUT", f"{V}/os-services/{uuid.uuid4()}", {"status": "disabled", "disabled_reason": "r"}),
        ("POST", action, {"os-resetState": {"state": "error"}}),
        ("POST", action, {"lock": {"locked_reason": "r"}}),
        ("POST", action, {"os-getConsoleOutput": {"length": 5}}),
        ("POST", action, {"reboot": {"type": "HARD"}}),
        ("POST", action, {"resize": {"flavorRef": "2"}}),
        ("POST", action, {"rebuild": {"imageRef": TINY_IMAGE_ID, "name": "r"}}),
        ("POST", action, {"createImage": {"name": "snap", "metadata": {"a": "b"}}}),
        ("POST", action, {"os-stop": None}),
        ("POST", f"{V}/servers/{server}/metadata", {"metadata": {"a": "b"}}),
        (
            "POST",
            f"{V}/os-server-groups",
            {"server_group": {"name": group, "policies": ["affinity"]}},
        ),
    ]


def _placement_bodies(rp: str) -> list[tuple[str, str, dict]]:
    consumer = str(uuid.uuid4())
    alloc = {
        "allocations": {rp: {"resources": {"VCPU": 1}}},
        "project_id": "p",
        "user_id": "u",
        "consumer_generation": None,
    }
    return [
        ("POST", "/placement/resource_providers", {"name": "n", "parent_provider_uuid": rp}),
        ("PUT", f"/placement/resource_providers/{rp}", {"name": "n2"}),
        (
            "PUT",
            f"/placement/resource_providers/{rp}/inventories",
            {"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 4}}},
        ),
        (
            "POST",
            f"/placement/resource_providers/{rp}/inventories",
            {"resource_class": "VCPU", "total": 4, "allocation_ratio": 1.5},
        ),
        (
            "PUT",
            f"/placement/resource_providers/{rp}/traits",
            {"traits": ["HW_CPU_X86_AVX"], "resource_provider_generation": 0},
        ),
        (
            "PUT",
            f"/placement/resource_providers/{rp}/aggregates",
            {"aggregates": [rp], "resource_provider_generation": 0},
        ),
        ("POST", "/placement/resource_classes", {"name": "CUSTOM_X"}),
        ("PUT", f"/placement/allocations/{consumer}", alloc),
        ("POST", "/placement/allocations", {consumer: alloc}),
    ]


def _identity_bodies() -> list[tuple[str, str, dict]]:
    return [
        ("POST", "/identity/v3/auth/tokens", auth_body("alice", "alpha")),
        (
            "POST",
            "/identity/v3/auth/tokens",
            {
                "auth": {
                    "identity": {"methods": ["token"], "token": {"id": "x"}},
                    "scope": {"project": {"id": "p"}},
                }
            },
        ),
        ("POST", "/identity/v3/projects", {"project": {"name": "p", "domain_id": "default"}}),
        ("POST", "/identity/v3/users", {"user": {"name": "u", "password": "p", "enabled": True}}),
        ("POST", "/identity/v3/domains", {"domain": {"name": "d", "enabled": True}}),
        ("POST", "/identity/v3/roles", {"role": {"name": "r"}}),
    ]


@override_settings(LOGIN_FAILURES_PER_USER=10**6, LOGIN_FAILURES_PER_SOURCE=10**6)
def test_wrong_types_anywhere_in_any_body_are_never_a_500(api, admin_api):
    server = boot(api)
    group = "grp"
    rp = send(admin_api, "POST", "/placement/resource_providers", {"name": "rp"}, **PLACEMENT)
    rp_uuid = rp.json()["uuid"]
    cases = [(admin_api, LATEST, *c) for c in _compute_bodies(server, group)]
    cases += [(api, LATEST, *c) for c in _compute_bodies(server, group)[:3]]
    cases += [(admin_api, PLACEMENT, *c) for c in _placement_bodies(rp_uuid)]
    cases += [(admin_api, {}, *c) for c in _identity_bodies()]
    failures, sent = [], 0
    for client, headers, method, path, body in cases:
        for where, value in _mutations(body):
            mutated = json.dumps(_replaced(body, where, value))
            response = send(client, method, path, mutated, **headers)
            sent += 1
            if response.status_code >= 500:
                failures.append(f"{method} {path} {where}={value!r}: {response.content[:200]}")
    assert sent > 1000
    assert not failures, "\n".join(failures)
    assert ResourceProvider.objects.filter(name="rp").exists()


ODD_QUERY_VALUES = ("²", "-1", "9" * 25, "x", "", "1e999", "[]", "0", "true", "%FF", "😀")
LISTINGS = {
    f"{V}/servers": ("limit", "marker", "changes-since", "status", "name", "all_tenants"),
    f"{V}/servers/detail": ("limit", "marker", "changes-before", "host", "sort_key"),
    f"{V}/flavors": ("limit", "marker", "minRam", "minDisk", "is_public", "sort_key"),
    f"{V}/os-keypairs": ("limit", "marker", "user_id"),
    f"{V}/os-server-groups": ("limit", "offset", "all_projects"),
    f"{V}/os-migrations": ("limit", "marker", "instance_uuid", "changes-since"),
    f"{V}/os-hypervisors": ("limit", "marker", "hypervisor_hostname_pattern"),
    f"{V}/os-aggregates": ("limit",),
    f"{V}/os-services": ("host", "binary"),
    f"{V}/limits": ("tenant_id",),
    "/placement/resource_providers": ("uuid", "name", "member_of", "resources", "in_tree"),
    "/placement/allocation_candidates": ("resources", "limit", "required", "member_of"),
    "/placement/usages": ("project_id", "user_id"),
    "/placement/traits": ("name", "associated"),
    "/image/v2/images": ("limit", "marker", "id", "visibility", "sort_key"),
    "/identity/v3/projects": ("name", "domain_id"),
    "/identity/v3/role_assignments": ("user.id", "scope.project.id"),
}


def test_odd_query_values_on_every_listing_are_never_a_500(admin_api):
    failures = []
    for path, params in LISTINGS.items():
        headers = PLACEMENT if path.startswith("/placement") else LATEST
        for param in params:
            for value in ODD_QUERY_VALUES:
                response = admin_api.get(path, {param: value}, **headers)
                if response.status_code >= 500:
                    failures.append(f"GET {path}?{param}={value!r}: {response.content[:200]}")
    assert not failures, "\n".join(failures)
