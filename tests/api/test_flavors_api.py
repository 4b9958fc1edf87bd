"""Flavor management through the compute API, as Nova answers it: create (an id made
or given, unique names and ids), the 2.55 description, delete (servers keep their copy),
extra specs (list, show, set, set one, unset; Nova's checks from 2.86), private flavors
and their access list, and who may do what."""

import pytest
from rest_framework.test import APIClient

from cloud.api.errors import BadRequest
from cloud.conductor.services import scheduling_request
from cloud.identity.models import Project
from cloud.identity.services import project_user_ensure
from cloud.instances.extra_specs import extra_spec_check
from cloud.instances.management.commands.seed import seed_catalog
from cloud.instances.models import Flavor, FlavorAccess, FlavorExtraSpec, Instance, RequestSpec
from tests.helpers import PASSWORD, create_server, token_for

V = "/compute/v2.1/flavors"
OSC = {"HTTP_OPENSTACK_API_VERSION": "compute 2.61"}
LATEST = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
BODY = {"name": "f.small", "ram": 1024, "vcpus": 2, "disk": 10}


def create(client: APIClient, headers=OSC, **fields) -> dict:
    response = client.post(V, {"flavor": {**BODY, **fields}}, format="json", **headers)
    assert response.status_code == 200, response.content
    return response.json()["flavor"]


def error(response, code: int) -> str:
    assert response.status_code == code, response.content
    ((key, body),) = response.json().items()
    assert body["code"] == code
    return body["message"]


def alpha() -> str:
    return Project.objects.get(name="alpha").id


@pytest.fixture
def beta_api(seeded) -> APIClient:
    project_user_ensure(project_name="beta", username="bob", password=PASSWORD, role_name="member")
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN=token_for("bob", "beta"))
    return client


# --- create, show, update, delete --------------------------------------------------------


def test_create_with_every_field_answers_novas_flavor(admin_api):
    flavor = create(
        admin_api,
        LATEST,
        id="custom-1",
        **{
            "OS-FLV-EXT-DATA:ephemeral": 5,
            "swap": 512,
            "rxtx_factor": 2.0,
            "os-flavor-access:is_public": False,
            "description": "for tests",
        },
    )
    assert flavor == {
        "id": "custom-1",
        "name": "f.small",
        "ram": 1024,
        "vcpus": 2,
        "disk": 10,
        "OS-FLV-EXT-DATA:ephemeral": 5,
        "swap": 512,
        "rxtx_factor": 2.0,
        "os-flavor-access:is_public": False,
        "OS-FLV-DISABLED:disabled": False,
        "description": "for tests",
        "extra_specs": {},
        "links": flavor["links"],
    }
    assert flavor["links"][0]["href"].endswith("/compute/v2.1/flavors/custom-1")
    shown = admin_api.get(f"{V}/custom-1", **LATEST).json()["flavor"]
    assert shown == flavor


def test_an_id_is_made_when_none_is_given_and_numbers_and_strings_are_taken(admin_api):
    made = create(admin_api, id=None)
    assert len(made["id"]) == 36 and made["id"].count("-") == 4
    numeric = create(admin_api, name="f.num", id=42, ram="2048", vcpus="1", disk="0")
    assert (numeric["id"], numeric["ram"], numeric["disk"]) == ("42", 2048, 0)
    assert create(admin_api, name="f.plain")["swap"] == ""  # no swap, before 2.75
    assert create(admin_api, LATEST, name="f.new")["swap"] == 0
    private = create(admin_api, name="f.priv", **{"os-flavor-access:is_public": "false"})
    assert private["os-flavor-access:is_public"] is False


def test_the_flavor_shapes_follow_the_microversion(admin_api):
    old = create(admin_api, {}, name="f.old")
    assert "description" not in old and "extra_specs" not in old and old["swap"] == ""
    described = create(
        admin_api, {"HTTP_OPENSTACK_API_VERSION": "compute 2.55"}, name="f.d", description="x"
    )
    assert described["description"] == "x" and "extra_specs" not in described
    refused = admin_api.post(
        V, {"flavor": {**BODY, "name": "f.e", "description": "x"}}, format="json"
    )
    assert "description" in error(refused, 400)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"name": ""}, "name"),
        ({"name": " padded"}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": 7}, "name"),
        ({"ram": 0}, "ram"),
        ({"ram": -1}, "ram"),
        ({"ram": "lots"}, "ram"),
        ({"ram": 1.5}, "ram"),
        ({"ram": True}, "ram"),
        ({"vcpus": 0}, "vcpus"),
        ({"vcpus": 2**31}, "vcpus"),
        ({"disk": -1}, "disk"),
        ({"OS-FLV-EXT-DATA:ephemeral": -1}, "ephemeral"),
        ({"swap": ""}, "swap"),
        ({"swap": -5}, "swap"),
        ({"rxtx_factor": 0}, "rxtx_factor"),
        ({"rxtx_factor": "fast"}, "rxtx_factor"),
        ({"os-flavor-access:is_public": "maybe"}, "is_public"),
        ({"id": ""}, "id"),
        ({"id": " lead"}, "id"),
        ({"id": "a/b"}, "id"),
        ({"id": True}, "id"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_bad_create_bodies_are_400_and_write_nothing(admin_api, fields, words):
    before = Flavor.objects.count()
    response = admin_api.post(V, {"flavor": {**BODY, **fields}}, format="json", **OSC)
    assert words in error(response, 400)
    assert Flavor.objects.count() == before


@pytest.mark.parametrize("missing", ["name", "ram", "vcpus", "disk"])
def test_each_required_field_is_required(admin_api, missing):
    body = {k: v for k, v in BODY.items() if k != missing}
    assert missing in error(admin_api.post(V, {"flavor": body}, format="json"), 400)


@pytest.mark.parametrize("body", [None, [], {"flavor": "x"}, {"flavor": BODY, "extra": 1}])
def test_a_body_that_is_no_flavor_object_is_400(admin_api, body):
    error(admin_api.post(V, body, format="json"), 400)


def test_duplicate_names_and_ids_are_409_in_novas_words(admin_api):
    create(admin_api, id="dup")
    same_name = admin_api.post(V, {"flavor": {**BODY, "id": "other"}}, format="json")
    assert error(same_name, 409) == "Flavor with name f.small already exists."
    same_id = admin_api.post(V, {"flavor": {**BODY, "name": "f.other", "id": "dup"}}, format="json")
    assert error(same_id, 409) == "Flavor with ID dup already exists."
    seeded_id = admin_api.post(V, {"flavor": {**BODY, "name": "f.x", "id": "1"}}, format="json")
    assert error(seeded_id, 409) == "Flavor with ID 1 already exists."
    assert Flavor.objects.filter(name="f.small").count() == 1


def test_the_description_is_updated_at_2_55_only(admin_api):
    flavor = create(admin_api, LATEST, description="before")
    path = f"{V}/{flavor['id']}"
    old = admin_api.put(path, {"flavor": {"description": "after"}}, format="json", **OSC)
    assert old.status_code == 200 and old.json()["flavor"]["description"] == "after"
    cleared = admin_api.put(path, {"flavor": {"description": None}}, format="json", **LATEST)
    assert cleared.json()["flavor"]["description"] is None
    too_old = admin_api.put(path, {"flavor": {"description": "x"}}, format="json")
    assert error(too_old, 404) == "The resource could not be found."
    for body in ({"flavor": {}}, {"flavor": {"name": "x", "description": "y"}}, {}):
        error(admin_api.put(path, body, format="json", **LATEST), 400)
    missing = admin_api.put(f"{V}/nope", {"flavor": {"description": "x"}}, format="json", **OSC)
    assert error(missing, 404) == "Flavor nope could not be found."


def test_delete_answers_202_and_takes_the_specs_and_access_along(admin_api):
    flavor = create(admin_api, **{"os-flavor-access:is_public": False})
    admin_api.post(f"{V}/{flavor['id']}/os-extra_specs", {"extra_specs": {"a": "1"}}, "json")
    admin_api.post(f"{V}/{flavor['id']}/action", {"addTenantAccess": {"tenant": alpha()}}, "json")
    response = admin_api.delete(f"{V}/{flavor['id']}")
    assert response.status_code == 202 and response.content == b""
    assert not Flavor.objects.filter(flavorid=flavor["id"]).exists()
    assert not FlavorExtraSpec.objects.exists() and not FlavorAccess.objects.exists()
    assert error(admin_api.get(f"{V}/{flavor['id']}"), 404)
    assert error(admin_api.delete(f"{V}/{flavor['id']}"), 404) == (
        f"Flavor {flavor['id']} could not be found."
    )


def test_a_deleted_flavor_leaves_its_servers_as_they_were(admin_api, api):
    flavor = create(admin_api, ram=256, vcpus=1, disk=1)
    admin_api.post(
        f"{V}/{flavor['id']}/os-extra_specs",
        {"extra_specs": {"aggregate_instance_extra_specs:ssd": "true"}},
        format="json",
    )
    server = create_server(api, "keeps", flavor=flavor["id"])
    assert admin_api.delete(f"{V}/{flavor['id']}").status_code == 202
    shown = api.get(f"/compute/v2.1/servers/{server['id']}", **LATEST).json()["server"]
    assert shown["flavor"] == {
        "vcpus": 1,
        "ram": 256,
        "disk": 1,
        "ephemeral": 0,
        "swap": 0,
        "original_name": "f.small",
        "extra_specs": {"aggregate_instance_extra_specs:ssd": "true"},
    }
    old = api.get(f"/compute/v2.1/servers/{server['id']}").json()["server"]
    assert old["flavor"]["id"] == flavor["id"]
    listed = api.get("/compute/v2.1/servers/detail", **LATEST).json()["servers"]
    assert listed[0]["flavor"]["original_name"] == "f.small"
    assert Instance.objects.get().flavor["extra_specs"] == {
        "aggregate_instance_extra_specs:ssd": "true"
    }


# --- who may manage flavors --------------------------------------------------------------


def test_members_may_not_manage_flavors(api):
    assert error(api.post(V, {"flavor": BODY}, format="json"), 403) == (
        "You are not authorized to perform the requested action."
    )
    error(api.put(f"{V}/1", {"flavor": {"description": "x"}}, format="json", **LATEST), 403)
    error(api.delete(f"{V}/1"), 403)
    error(api.post(f"{V}/1/os-extra_specs", {"extra_specs": {"a": "b"}}, format="json"), 403)
    error(api.put(f"{V}/1/os-extra_specs/a", {"a": "b"}, format="json"), 403)
    error(api.delete(f"{V}/1/os-extra_specs/a"), 403)
    error(api.get(f"{V}/1/os-flavor-access"), 403)
    tenant = {"tenant": alpha()}
    error(api.post(f"{V}/1/action", {"addTenantAccess": tenant}, format="json"), 403)
    error(api.post(f"{V}/1/action", {"removeTenantAccess": tenant}, format="json"), 403)
    assert Flavor.objects.count() == 5 and not FlavorExtraSpec.objects.exists()


def test_a_members_bad_body_is_400_before_its_403_as_in_nova(api):
    error(api.post(V, {"flavor": {"name": "x"}}, format="json"), 400)


# --- extra specs -------------------------------------------------------------------------


def test_extra_specs_set_list_show_update_unset(admin_api, api):
    path = f"{V}/1/os-extra_specs"
    sent = {"extra_specs": {"hw:cpu_policy": "dedicated", "hw:numa_nodes": 2, "free": "form"}}
    response = admin_api.post(path, sent, format="json", **OSC)
    assert response.status_code == 200 and response.json() == sent
    stored = {"hw:cpu_policy": "dedicated", "hw:numa_nodes": "2", "free": "form"}
    assert api.get(path, **OSC).json() == {"extra_specs": stored}
    assert api.get(f"{V}/1", **OSC).json()["flavor"]["extra_specs"] == stored
    assert "extra_specs" not in api.get(f"{V}/1", **{"HTTP_OPENSTACK_API_VERSION": "compute 2.60"})
    merged = admin_api.post(path, {"extra_specs": {"free": "again"}}, format="json")
    assert merged.json() == {"extra_specs": {"free": "again"}}
    assert api.get(path).json()["extra_specs"]["free"] == "again"
    assert len(api.get(path).json()["extra_specs"]) == 3

    one = api.get(f"{path}/hw:cpu_policy")
    assert one.status_code == 200 and one.json() == {"hw:cpu_policy": "dedicated"}
    put = admin_api.put(f"{path}/hw:cpu_policy", {"hw:cpu_policy": "shared"}, format="json")
    assert put.status_code == 200 and put.json() == {"hw:cpu_policy": "shared"}
    added = admin_api.put(f"{path}/new key", {"new key": "v"}, format="json")
    assert added.status_code == 200
    assert api.get(f"{path}/new key").json() == {"new key": "v"}

    deleted = admin_api.delete(f"{path}/hw:cpu_policy")
    assert deleted.status_code == 200 and deleted.content == b""
    assert error(api.get(f"{path}/hw:cpu_policy"), 404) == (
        "Flavor 1 has no extra specs with key hw:cpu_policy."
    )
    assert error(admin_api.delete(f"{path}/hw:cpu_policy"), 404) == (
        "Flavor 1 has no extra specs with key hw:cpu_policy."
    )
    assert set(api.get(path).json()["extra_specs"]) == {"hw:numa_nodes", "free", "new key"}


def test_the_flavor_list_shows_extra_specs_from_2_61(admin_api, api):
    admin_api.post(f"{V}/2/os-extra_specs", {"extra_specs": {"quota:cpu_shares": "10"}}, "json")
    rows = {f["id"]: f for f in api.get(f"{V}/detail", **OSC).json()["flavors"]}
    assert rows["2"]["extra_specs"] == {"quota:cpu_shares": "10"} and rows["1"]["extra_specs"] == {}
    assert "extra_specs" not in api.get(f"{V}/detail").json()["flavors"][0]
    assert "extra_specs" not in api.get(V, **OSC).json()["flavors"][0]


@pytest.mark.parametrize(
    "body",
    [
        {"extra_specs": {"bad/key": "v"}},
        {"extra_specs": {"": "v"}},
        {"extra_specs": {"k" * 256: "v"}},
        {"extra_specs": {"k": "v" * 256}},
        {"extra_specs": {"k": 10**300}},
        {"extra_specs": {"k": None}},
        {"extra_specs": {"k": True}},
        {"extra_specs": {"k": ["v"]}},
        {"extra_specs": "k=v"},
        {"specs": {"k": "v"}},
    ],
)
def test_extra_specs_outside_novas_schema_are_400_at_any_version(admin_api, body):
    error(admin_api.post(f"{V}/1/os-extra_specs", body, format="json", **OSC), 400)
    assert not FlavorExtraSpec.objects.exists()


def test_setting_one_extra_spec_takes_exactly_the_key_of_the_url(admin_api):
    path = f"{V}/1/os-extra_specs/hw:cpu_policy"
    mismatch = admin_api.put(path, {"hw:numa_nodes": "1"}, format="json")
    assert error(mismatch, 400) == "Request body and URI mismatch"
    error(admin_api.put(path, {"hw:cpu_policy": "shared", "b": "2"}, format="json"), 400)
    error(admin_api.put(path, {}, format="json"), 400)
    assert not FlavorExtraSpec.objects.exists()


BAD_SPECS = [
    ("hw:cpu_policy", "sometimes"),
    ("hw:cpu_thread_policy", "always"),
    ("hw:mem_page_size", "huge"),
    ("hw:numa_nodes", "0"),
    ("hw:numa_nodes", "two"),
    ("hw:numa_cpus.0", "0-x"),
    ("hw:numa_mem.1", "0"),
    ("hw:boot_menu", "perhaps"),
    ("hw:redirected_usb_ports", "16"),
    ("hw:no_such_thing", "1"),
    ("hw_rng:rate_bytes", "-1"),
    ("resources:VCPU", "many"),
    ("resources:NOT_A_CLASS", "1"),
    ("resources1:CUSTOM_lower", "1"),
    ("trait:HW_CPU_X86_AVX2", "wanted"),
    ("trait:NOT_A_TRAIT", "required"),
    ("quota:cpu_shares_level", "extreme"),
    ("os:secure_boot", "optional"),
    ("pci_passthrough:alias", "gpu"),
]
GOOD_SPECS = [
    ("hw:cpu_policy", "dedicated"),
    ("hw:cpu_thread_policy", "isolate"),
    ("hw:mem_page_size", "2MB"),
    ("hw:mem_page_size", "large"),
    ("hw:numa_nodes", "2"),
    ("hw:numa_cpus.0", "0-3,^2"),
    ("hw:numa_mem.1", "1024"),
    ("hw:boot_menu", "yes"),
    ("hw:cpu_realtime_mask", "^0-1"),
    ("hw_rng:allowed", "True"),
    ("resources:VCPU", "0"),
    ("resources1:CUSTOM_GPU", "2"),
    ("resources_gpu:PCPU", "4"),
    ("trait:HW_CPU_X86_AVX2", "required"),
    ("trait1:CUSTOM_FAST_DISK", "forbidden"),
    ("aggregate_instance_extra_specs:ssd", "true"),
    ("aggregate_instance_extra_specs:rack", "<in> r1"),
    ("quota:disk_read_bytes_sec", "1000"),
    ("group_policy", "isolate"),
    ("unscoped", "anything"),
    ("my_namespace:anything", "goes"),
    ("capabilities:hypervisor_type", "QEMU"),
]


@pytest.mark.parametrize(("key", "value"), BAD_SPECS)
def test_from_2_86_a_bad_spec_in_a_namespace_nova_knows_is_400(admin_api, key, value):
    path = f"{V}/1/os-extra_specs"
    strict = admin_api.post(path, {"extra_specs": {key: value}}, format="json", **LATEST)
    assert error(strict, 400).startswith("Validation failed;")
    one = admin_api.put(f"{path}/{key}", {key: value}, format="json", **LATEST)
    assert error(one, 400).startswith("Validation failed;")
    assert not FlavorExtraSpec.objects.exists()
    # Before 2.86 Nova stores what its schema allows (openstacksdk sends 2.61).
    loose = admin_api.post(path, {"extra_specs": {key: value}}, format="json", **OSC)
    assert loose.status_code == 200
    assert FlavorExtraSpec.objects.get().value == value


@pytest.mark.parametrize(("key", "value"), GOOD_SPECS)
def test_from_2_86_good_specs_and_unknown_namespaces_are_stored(admin_api, key, value):
    path = f"{V}/1/os-extra_specs"
    response = admin_api.post(path, {"extra_specs": {key: value}}, format="json", **LATEST)
    assert response.status_code == 200, response.content
    assert admin_api.get(path).json()["extra_specs"] == {key: value}


def test_an_unknown_key_of_a_known_namespace_names_the_key():
    with pytest.raises(BadRequest, match="extra spec 'hw:bogus' does not appear to be a valid"):
        extra_spec_check("hw:bogus", "1")


def test_the_scheduler_still_reads_aggregate_specs_from_the_instance(admin_api, api):
    admin_api.post(
        f"{V}/1/os-extra_specs",
        {"extra_specs": {"aggregate_instance_extra_specs:ssd": "true", "hw:cpu_policy": "shared"}},
        format="json",
    )
    create_server(api, "spec")
    instance = Instance.objects.get()
    request = scheduling_request(RequestSpec.objects.get(), instance)
    assert request.flavor_extra_specs == {
        "aggregate_instance_extra_specs:ssd": "true",
        "hw:cpu_policy": "shared",
    }


def test_extra_specs_of_a_missing_flavor_are_404(admin_api, api):
    assert error(api.get(f"{V}/nope/os-extra_specs"), 404) == "Flavor nope could not be found."
    error(api.get(f"{V}/nope/os-extra_specs/k"), 404)
    error(admin_api.post(f"{V}/nope/os-extra_specs", {"extra_specs": {"k": "v"}}, "json"), 404)
    error(admin_api.put(f"{V}/nope/os-extra_specs/k", {"k": "v"}, "json"), 404)
    error(admin_api.delete(f"{V}/nope/os-extra_specs/k"), 404)


# --- private flavors and their access list -----------------------------------------------


def test_a_private_flavor_is_seen_and_used_only_by_projects_it_is_shared_with(
    admin_api, api, beta_api
):
    flavor = create(admin_api, ram=256, vcpus=1, disk=1, **{"os-flavor-access:is_public": False})
    path = f"{V}/{flavor['id']}"
    for client in (api, beta_api):
        assert error(client.get(path), 404) == f"Flavor {flavor['id']} could not be found."
        assert error(client.get(f"{path}/os-extra_specs"), 404)
        assert flavor["id"] not in {f["id"] for f in client.get(f"{V}/detail").json()["flavors"]}
    boot = {"server": {"name": "p", "imageRef": "x", "flavorRef": flavor["id"]}}
    assert api.post("/compute/v2.1/servers", boot, format="json").status_code == 400

    added = admin_api.post(f"{path}/action", {"addTenantAccess": {"tenant": alpha()}}, "json")
    assert added.status_code == 200
    assert added.json() == {"flavor_access": [{"flavor_id": flavor["id"], "tenant_id": alpha()}]}
    assert api.get(path).status_code == 200
    assert api.get(f"{path}/os-extra_specs").status_code == 200
    listed = {f["id"] for f in api.get(f"{V}/detail?is_public=false").json()["flavors"]}
    assert flavor["id"] in listed
    assert flavor["id"] not in {f["id"] for f in beta_api.get(V).json()["flavors"]}
    assert error(beta_api.get(path), 404)
    server = create_server(api, "shared", flavor=flavor["id"])
    assert server["id"]

    listing = admin_api.get(f"{path}/os-flavor-access")
    assert listing.json() == {"flavor_access": [{"flavor_id": flavor["id"], "tenant_id": alpha()}]}
    removed = admin_api.post(
        f"{path}/action", {"removeTenantAccess": {"tenant": alpha()}}, format="json"
    )
    assert removed.status_code == 200 and removed.json() == {"flavor_access": []}
    assert error(api.get(path), 404)


def test_access_actions_fail_as_novas(admin_api):
    private = create(admin_api, **{"os-flavor-access:is_public": False})["id"]
    action = f"{V}/{private}/action"
    tenant = {"tenant": alpha()}
    assert admin_api.post(action, {"addTenantAccess": tenant}, "json").status_code == 200
    again = admin_api.post(action, {"addTenantAccess": tenant}, format="json")
    assert error(again, 409) == (
        f"Flavor access already exists for flavor {private} and project {alpha()} combination."
    )
    unknown = admin_api.post(action, {"addTenantAccess": {"tenant": "nobody"}}, format="json")
    assert error(unknown, 400) == "Project ID nobody is not a valid project."
    gone = admin_api.post(action, {"removeTenantAccess": {"tenant": "nobody"}}, format="json")
    assert error(gone, 404) == f"Flavor access not found for {private} / nobody combination."
    public = admin_api.post(f"{V}/1/action", {"addTenantAccess": tenant}, "json", **LATEST)
    assert error(public, 409) == "Can not add access to a public flavor."
    assert error(admin_api.get(f"{V}/1/os-flavor-access"), 404) == (
        "Access list not available for public flavors."
    )
    for body in (
        {"addTenantAccess": {}},
        {"addTenantAccess": {"tenant": ""}},
        {"addTenantAccess": {"tenant": 5}},
        {"addTenantAccess": {"tenant": "x", "more": 1}},
        {"addTenantAccess": "x"},
        {"fly": {}},
        {"addTenantAccess": tenant, "removeTenantAccess": tenant},
    ):
        error(admin_api.post(action, body, format="json"), 400)
    error(admin_api.post(f"{V}/nope/action", {"addTenantAccess": tenant}, "json"), 404)
    assert FlavorAccess.objects.count() == 1


def test_the_is_public_filter_is_the_admins(admin_api, api):
    private = create(admin_api, **{"os-flavor-access:is_public": False})["id"]

    def ids(client, query=""):
        response = client.get(f"{V}/detail{query}")
        assert response.status_code == 200, response.content
        return {f["id"] for f in response.json()["flavors"]}

    public = {"1", "2", "3", "4", "5"}
    assert ids(admin_api) == public
    assert ids(admin_api, "?is_public=None") == public | {private}
    assert ids(admin_api, "?is_public=false") == {private}
    assert ids(admin_api, "?is_public=true") == public
    assert ids(api, "?is_public=None") == ids(api, "?is_public=false") == public
    error(admin_api.get(f"{V}?is_public=sometimes"), 400)
    admin_api.post(
        f"{V}/{private}/action",
        {"addTenantAccess": {"tenant": Project.objects.get(name="admin").id}},
        format="json",
    )
    assert ids(admin_api) == public | {private}


def test_a_disabled_flavor_is_listed_for_admins_only(admin_api, api):
    Flavor.objects.filter(flavorid="5").update(disabled=True)
    assert "5" not in {f["id"] for f in api.get(V).json()["flavors"]}
    assert "5" in {f["id"] for f in admin_api.get(V).json()["flavors"]}


def test_seeding_again_keeps_an_admins_flavor_that_took_a_seeded_name(admin_api):
    admin_api.delete(f"{V}/1")
    create(admin_api, name="m1.tiny", id="mine", ram=128)
    seed_catalog()
    assert not Flavor.objects.filter(flavorid="1").exists()
    assert Flavor.objects.get(name="m1.tiny").memory_mb == 128
    assert Flavor.objects.get(flavorid="2").name == "m1.small"
