"""The placement API at /placement: versions and errors, policy, resource providers and
their trees, inventories, resource classes, traits and aggregates; microversion
differences, generation conflicts, and bad input refused with nothing written.
Allocations, usages and allocation candidates: test_placement_allocations_api.py."""

import pytest

from cloud.identity.catalog import service_catalog
from cloud.identity.policies import list_rules
from cloud.placement.models import (
    CustomResourceClass,
    Inventory,
    ResourceProvider,
    Trait,
)
from tests.api.placement_client import INVENTORY, P, Placement, error, new_id

DENIED = "You are not authorized to perform the requested action."


@pytest.fixture
def placement(admin_api) -> Placement:
    return Placement(admin_api)


# --- versions, errors, policy --------------------------------------------------------


def test_root_answers_the_version_document_without_a_token(seeded, client):
    response = client.get(P)
    assert response.status_code == 200
    assert response.json() == {
        "versions": [
            {
                "id": "v1.0",
                "max_version": "1.39",
                "min_version": "1.0",
                "status": "CURRENT",
                "links": [{"rel": "self", "href": ""}],
            }
        ]
    }
    assert response["OpenStack-API-Version"] == "placement 1.0"
    assert "OpenStack-API-Version" in response["Vary"]
    latest = client.get(f"{P}/", HTTP_OPENSTACK_API_VERSION="placement latest")
    assert latest["OpenStack-API-Version"] == "placement 1.39"
    assert "Last-Modified" in latest and latest["Cache-Control"] == "no-cache"


def test_versions_out_of_range_are_406_and_malformed_ones_400(seeded, client):
    refused = client.get(P, HTTP_OPENSTACK_API_VERSION="placement 1.40")
    found = error(refused, 406)
    assert found["title"] == "Not Acceptable"
    assert (found["min_version"], found["max_version"]) == ("1.0", "1.39")
    assert "1.40" in found["detail"]
    assert error(client.get(P, HTTP_OPENSTACK_API_VERSION="placement one"), 400)
    # Another service's version is not ours: placement answers at its minimum.
    other = client.get(P, HTTP_OPENSTACK_API_VERSION="compute 2.96")
    assert other["OpenStack-API-Version"] == "placement 1.0"


def test_errors_carry_a_code_from_1_23_and_the_request_id(placement):
    missing = new_id()
    response = placement("GET", f"/resource_providers/{missing}")
    found = error(response, 404)
    assert found["title"] == "Not Found"
    assert missing in found["detail"]
    assert found["code"] == "placement.undefined_code"
    assert found["request_id"] == response["X-OpenStack-Request-ID"]
    assert "code" not in error(
        placement("GET", f"/resource_providers/{missing}", None, "1.22"), 404
    )
    unknown_route = placement("GET", "/no_such_thing")
    assert error(unknown_route, 404)["title"] == "Not Found"


def test_a_member_is_refused_everywhere_and_writes_nothing(seeded, api):
    member = Placement(api)
    calls = [
        ("GET", "/resource_providers", None),
        ("POST", "/resource_providers", {"name": "sneaky"}),
        ("GET", f"/resource_providers/{new_id()}/inventories", None),
        ("GET", "/resource_classes", None),
        ("PUT", "/traits/CUSTOM_SNEAKY", None),
        ("PUT", f"/allocations/{new_id()}", {"allocations": {}}),
        ("GET", "/usages?project_id=p1", None),
        ("GET", "/allocation_candidates?resources=VCPU:1", None),
    ]
    for method, path, body in calls:
        found = error(member(method, path, body), 403)
        assert found["detail"] == DENIED
    assert not ResourceProvider.objects.exists() and not Trait.objects.exists()


def test_no_token_is_401(seeded, client):
    response = client.get(f"{P}/resource_providers")
    assert error(response, 401)["title"] == "Unauthorized"


def test_rules_and_catalog():
    rules = {
        rule.name: rule.check_str for rule in list_rules() if rule.name.startswith("placement")
    }
    assert rules["placement:resource_providers:list"] == "rule:context_is_admin"
    assert {
        "placement:allocations:update",
        "placement:allocations:manage",
        "placement:allocation_candidates:list",
        "placement:usages",
        "placement:traits:list",
        "placement:resource_classes:delete",
        "placement:resource_providers:inventories:update",
    } <= set(rules)
    assert set(rules.values()) == {"rule:context_is_admin"}
    placement = {s["type"]: s for s in service_catalog("http://cloud")}["placement"]
    assert {e["url"] for e in placement["endpoints"]} == {"http://cloud/placement"}


# --- resource providers -----------------------------------------------------------------


def test_create_answers_201_before_1_20_and_the_provider_after(placement):
    old = placement("POST", "/resource_providers", {"name": "old"}, "1.19")
    assert old.status_code == 201 and not old.content
    found = placement.ok("GET", "/resource_providers?name=old")["resource_providers"]
    assert old["Location"] == f"http://testserver{P}/resource_providers/{found[0]['uuid']}"
    chosen = new_id()
    new = placement("POST", "/resource_providers", {"name": "new", "uuid": chosen}, "1.20")
    assert new.status_code == 200
    assert new.json()["uuid"] == chosen and new.json()["generation"] == 0
    assert new["Location"].endswith(f"/resource_providers/{chosen}")


def test_provider_links_and_tree_fields_follow_the_microversion(placement):
    rp = placement.provider("rp")["uuid"]
    url = f"{P}/resource_providers/{rp}"

    def rels(version: str) -> list[str]:
        body = placement.ok("GET", f"/resource_providers/{rp}", version=version)
        assert all(link["href"].startswith(url) for link in body["links"])
        return [link["rel"] for link in body["links"]]

    assert rels("1.0") == ["self", "inventories", "usages"]
    assert rels("1.6") == ["self", "inventories", "usages", "aggregates", "traits"]
    assert rels("1.11")[-1] == "allocations"
    old = placement.ok("GET", f"/resource_providers/{rp}", version="1.13")
    assert "root_provider_uuid" not in old
    new = placement.ok("GET", f"/resource_providers/{rp}", version="1.14")
    assert (new["parent_provider_uuid"], new["root_provider_uuid"]) == (None, rp)


def test_list_filters_by_name_uuid_and_resources(placement):
    big = placement.provider("big", {"VCPU": {"total": 8}})["uuid"]
    small = placement.provider("small", {"VCPU": {"total": 1}})["uuid"]

    def names(query: str, version: str = "1.39") -> list[str]:
        body = placement.ok("GET", f"/resource_providers{query}", version=version)
        return [rp["name"] for rp in body["resource_providers"]]

    assert names("") == ["big", "small"]
    assert names("?name=small") == ["small"]
    assert names(f"?uuid={big}") == ["big"]
    assert names("?resources=VCPU:2") == ["big"]
    assert names("?resources=VCPU:1") == ["big", "small"]
    assert small
    # resources= arrived in 1.4; unknown parameters and classes are 400.
    assert (
        "resources"
        in error(placement("GET", "/resource_providers?resources=VCPU:1", None, "1.3"), 400)[
            "detail"
        ]
    )
    assert error(placement("GET", "/resource_providers?color=red"), 400)
    assert (
        "CUSTOM_NOPE"
        in error(placement("GET", "/resource_providers?resources=CUSTOM_NOPE:1"), 400)["detail"]
    )
    assert error(placement("GET", "/resource_providers?resources=VCPU:0"), 400)["code"] == (
        "placement.query.bad_value"
    )
    assert error(placement("GET", "/resource_providers?uuid=not-a-uuid"), 400)


def test_update_and_delete_a_provider(placement):
    rp = placement.provider("before")["uuid"]
    other = placement.provider("other")["uuid"]
    renamed = placement.ok("PUT", f"/resource_providers/{rp}", {"name": "after"})
    assert renamed["name"] == "after" and renamed["generation"] == 0
    taken = error(placement("PUT", f"/resource_providers/{rp}", {"name": "other"}), 409)
    assert taken["code"] == "placement.duplicate_name"
    assert error(placement("POST", "/resource_providers", {"name": "other"}), 409)["code"] == (
        "placement.duplicate_name"
    )
    assert error(placement("PUT", f"/resource_providers/{rp}", {}), 400)
    assert error(placement("PUT", f"/resource_providers/{rp}", {"name": "x", "color": "red"}), 400)
    assert placement("DELETE", f"/resource_providers/{other}").status_code == 204
    assert error(placement("GET", f"/resource_providers/{other}"), 404)
    assert error(placement("DELETE", f"/resource_providers/{other}"), 404)
    assert ResourceProvider.objects.get().name == "after"


def test_provider_trees(placement):
    root = placement.provider("root")["uuid"]
    child = placement.provider("child", parent_provider_uuid=root)
    assert (child["parent_provider_uuid"], child["root_provider_uuid"]) == (root, root)
    grandchild = placement.provider("grandchild", parent_provider_uuid=child["uuid"])
    assert grandchild["root_provider_uuid"] == root
    placement.provider("elsewhere")
    tree = placement.ok("GET", f"/resource_providers?in_tree={grandchild['uuid']}")
    assert [rp["name"] for rp in tree["resource_providers"]] == ["root", "child", "grandchild"]
    missing_parent = placement(
        "POST", "/resource_providers", {"name": "orphan", "parent_provider_uuid": new_id()}
    )
    assert "parent provider UUID does not exist" in error(missing_parent, 400)["detail"]
    # Before 1.37 a parent is set once; from 1.37 it may change, but never into a loop.
    move = {"name": "grandchild", "parent_provider_uuid": root}
    refused = placement("PUT", f"/resource_providers/{grandchild['uuid']}", move, "1.36")
    assert "re-parenting" in error(refused, 400)["detail"]
    moved = placement.ok("PUT", f"/resource_providers/{grandchild['uuid']}", move, "1.37")
    assert moved["parent_provider_uuid"] == root
    loop = {"name": "root", "parent_provider_uuid": child["uuid"]}
    assert "loop" in error(placement("PUT", f"/resource_providers/{root}", loop), 400)["detail"]
    parent = error(placement("DELETE", f"/resource_providers/{root}"), 409)
    assert parent["code"] == "placement.resource_provider.cannot_delete_parent"


# --- inventories ---------------------------------------------------------------------


def test_inventories_replace_show_and_generation_conflicts(placement):
    rp = placement.provider("rp")["uuid"]
    path = f"/resource_providers/{rp}/inventories"
    assert placement.ok("GET", path) == {"inventories": {}, "resource_provider_generation": 0}
    body = {"inventories": INVENTORY, "resource_provider_generation": 0}
    replaced = placement.ok("PUT", path, body)
    assert replaced["resource_provider_generation"] == 1
    assert replaced["inventories"]["VCPU"] == {
        "total": 4,
        "reserved": 0,
        "min_unit": 1,
        "max_unit": 2147483647,
        "step_size": 1,
        "allocation_ratio": 1.0,
    }
    stale = placement("PUT", path, {**body, "inventories": {"VCPU": {"total": 99}}})
    assert error(stale, 409)["code"] == "placement.concurrent_update"
    assert Inventory.objects.get(resource_class="VCPU").total == 4
    one = placement.ok("GET", f"{path}/MEMORY_MB")
    assert one["max_unit"] == 2048 and one["resource_provider_generation"] == 1
    assert error(placement("GET", f"{path}/DISK_GB"), 404)


def test_one_inventory_at_a_time(placement):
    rp = placement.provider("rp", {"VCPU": {"total": 4}})["uuid"]
    path = f"/resource_providers/{rp}/inventories"
    created = placement("POST", path, {"resource_class": "DISK_GB", "total": 100})
    assert created.status_code == 201
    assert created["Location"].endswith(f"{path}/DISK_GB")
    assert created.json()["total"] == 100 and created.json()["resource_provider_generation"] == 2
    again = placement("POST", path, {"resource_class": "DISK_GB", "total": 100})
    assert error(again, 409)["code"] == "placement.concurrent_update"
    updated = placement.ok(
        "PUT",
        f"{path}/VCPU",
        {"total": 8, "allocation_ratio": 2.0, "resource_provider_generation": 2},
    )
    assert (updated["total"], updated["allocation_ratio"]) == (8, 2.0)
    assert Inventory.objects.get(resource_class="VCPU").capacity == 16
    stale = placement("PUT", f"{path}/VCPU", {"total": 9, "resource_provider_generation": 2})
    assert error(stale, 409)["code"] == "placement.concurrent_update"
    absent = placement("PUT", f"{path}/PCI_DEVICE", {"total": 1, "resource_provider_generation": 3})
    assert error(absent, 400)
    assert placement("DELETE", f"{path}/DISK_GB").status_code == 204
    assert error(placement("DELETE", f"{path}/DISK_GB"), 404)
    # Deleting them all arrived in 1.5.
    assert error(placement("DELETE", path, None, "1.4"), 405)
    assert placement("DELETE", path, None, "1.5").status_code == 204
    assert not Inventory.objects.exists()
    assert placement.ok("GET", f"/resource_providers/{rp}")["generation"] == 5


@pytest.mark.parametrize(
    ("inventory", "version"),
    [
        ({"total": 0}, "1.39"),
        ({"total": "4"}, "1.39"),
        ({"total": True}, "1.39"),
        ({"total": 4, "reserved": 5}, "1.39"),
        ({"total": 4, "reserved": 4}, "1.25"),
        ({"total": 4, "min_unit": 3, "max_unit": 2}, "1.39"),
        ({"total": 4, "step_size": 0}, "1.39"),
        ({"total": 4, "allocation_ratio": 0}, "1.39"),
        ({"total": 4, "color": "red"}, "1.39"),
        ({"reserved": 1}, "1.39"),
    ],
)
def test_bad_inventories_are_400_and_write_nothing(placement, inventory, version):
    rp = placement.provider("rp")["uuid"]
    body = {"inventories": {"VCPU": inventory}, "resource_provider_generation": 0}
    found = error(placement("PUT", f"/resource_providers/{rp}/inventories", body, version), 400)
    assert found["detail"].startswith("JSON does not validate")
    assert not Inventory.objects.exists()
    assert ResourceProvider.objects.get().generation == 0


def test_reserved_may_equal_total_from_1_26(placement):
    rp = placement.provider("rp")["uuid"]
    body = {"inventories": {"VCPU": {"total": 4, "reserved": 4}}, "resource_provider_generation": 0}
    placement.ok("PUT", f"/resource_providers/{rp}/inventories", body, "1.26")
    assert Inventory.objects.get().capacity == 0


def test_unknown_resource_class_in_inventory_is_400(placement):
    rp = placement.provider("rp")["uuid"]
    path = f"/resource_providers/{rp}/inventories"
    body = {"inventories": {"CUSTOM_MISSING": {"total": 1}}, "resource_provider_generation": 0}
    assert "CUSTOM_MISSING" in error(placement("PUT", path, body), 400)["detail"]
    bad_name = {"inventories": {"vcpu": {"total": 1}}, "resource_provider_generation": 0}
    assert error(placement("PUT", path, bad_name), 400)
    assert not Inventory.objects.exists()


def test_inventory_in_use_cannot_go(placement):
    rp = placement.provider("rp", INVENTORY)
    placement.allocate(new_id(), {rp["uuid"]: {"VCPU": 1}})
    path = f"/resource_providers/{rp['uuid']}/inventories"
    generation = placement.ok("GET", path)["resource_provider_generation"]
    body = {
        "inventories": {"MEMORY_MB": {"total": 2048}},
        "resource_provider_generation": generation,
    }
    assert error(placement("PUT", path, body), 409)["code"] == "placement.inventory.inuse"
    assert error(placement("DELETE", f"{path}/VCPU"), 409)["code"] == "placement.inventory.inuse"
    assert error(placement("DELETE", path), 409)["code"] == "placement.inventory.inuse"
    in_use = error(placement("DELETE", f"/resource_providers/{rp['uuid']}"), 409)
    assert in_use["code"] == "placement.resource_provider.inuse"
    assert set(Inventory.objects.values_list("resource_class", flat=True)) == {"VCPU", "MEMORY_MB"}


# --- resource classes and traits ---------------------------------------------------------


def test_resource_classes(placement):
    assert error(placement("GET", "/resource_classes", None, "1.1"), 404)
    created = placement("POST", "/resource_classes", {"name": "CUSTOM_GPU"}, "1.2")
    assert created.status_code == 201
    assert created["Location"] == f"http://testserver{P}/resource_classes/CUSTOM_GPU"
    names = [rc["name"] for rc in placement.ok("GET", "/resource_classes")["resource_classes"]]
    assert names[:3] == ["VCPU", "MEMORY_MB", "DISK_GB"] and names[-1] == "CUSTOM_GPU"
    assert {"PCI_DEVICE", "SRIOV_NET_VF"} <= set(names)
    assert placement.ok("GET", "/resource_classes/VCPU") == {
        "name": "VCPU",
        "links": [{"rel": "self", "href": f"{P}/resource_classes/VCPU"}],
    }
    assert error(placement("POST", "/resource_classes", {"name": "CUSTOM_GPU"}), 409)
    assert error(placement("POST", "/resource_classes", {"name": "GPU"}), 400)
    assert placement("PUT", "/resource_classes/CUSTOM_FPGA", None, "1.7").status_code == 201
    assert placement("PUT", "/resource_classes/CUSTOM_FPGA", None, "1.7").status_code == 204
    assert error(placement("PUT", "/resource_classes/VCPU", None, "1.7"), 400)
    # Before 1.7, PUT renames a custom class.
    renamed = placement.ok("PUT", "/resource_classes/CUSTOM_FPGA", {"name": "CUSTOM_ASIC"}, "1.6")
    assert renamed["name"] == "CUSTOM_ASIC"
    assert error(placement("PUT", "/resource_classes/VCPU", {"name": "CUSTOM_V"}, "1.6"), 400)
    assert error(placement("DELETE", "/resource_classes/VCPU"), 400)
    rp = placement.provider("rp", {"CUSTOM_GPU": {"total": 1}})["uuid"]
    assert rp
    assert error(placement("DELETE", "/resource_classes/CUSTOM_GPU"), 409)
    assert placement("DELETE", "/resource_classes/CUSTOM_ASIC").status_code == 204
    assert error(placement("GET", "/resource_classes/CUSTOM_ASIC"), 404)
    assert list(CustomResourceClass.objects.values_list("name", flat=True)) == ["CUSTOM_GPU"]


def test_traits(placement):
    assert error(placement("GET", "/traits", None, "1.5"), 404)
    created = placement("PUT", "/traits/CUSTOM_FAST", None, "1.6")
    assert created.status_code == 201
    assert created["Location"].endswith(f"{P}/traits/CUSTOM_FAST")
    assert placement("PUT", "/traits/CUSTOM_FAST").status_code == 204
    assert "CUSTOM_" in error(placement("PUT", "/traits/FAST"), 400)["detail"]
    assert placement("GET", "/traits/CUSTOM_FAST").status_code == 204
    assert placement("GET", "/traits/HW_CPU_X86_AVX2").status_code == 204
    assert error(placement("GET", "/traits/CUSTOM_SLOW"), 404)
    every = placement.ok("GET", "/traits")["traits"]
    assert {"COMPUTE_VOLUME_MULTI_ATTACH", "HW_CPU_X86_AVX2", "CUSTOM_FAST"} <= set(every)
    assert placement.ok("GET", "/traits?name=startswith:CUSTOM_")["traits"] == ["CUSTOM_FAST"]
    assert placement.ok("GET", "/traits?name=in:CUSTOM_FAST,STORAGE_DISK_SSD,NOPE")["traits"] == [
        "CUSTOM_FAST",
        "STORAGE_DISK_SSD",
    ]
    assert error(placement("GET", "/traits?name=CUSTOM_FAST"), 400)
    assert error(placement("DELETE", "/traits/HW_CPU_X86_AVX2"), 400)
    assert placement("PUT", "/traits/CUSTOM_GONE").status_code == 201
    assert placement("DELETE", "/traits/CUSTOM_GONE").status_code == 204
    assert error(placement("DELETE", "/traits/CUSTOM_GONE"), 404)


def test_provider_traits_with_generations(placement):
    rp = placement.provider("rp")["uuid"]
    path = f"/resource_providers/{rp}/traits"
    placement.ok("PUT", "/traits/CUSTOM_FAST", status=201)
    assert placement.ok("GET", path) == {"traits": [], "resource_provider_generation": 0}
    body = {"traits": ["HW_CPU_X86_AVX2", "CUSTOM_FAST"], "resource_provider_generation": 0}
    assert placement.ok("PUT", path, body) == {
        "traits": ["CUSTOM_FAST", "HW_CPU_X86_AVX2"],
        "resource_provider_generation": 1,
    }
    assert error(placement("PUT", path, body), 409)["code"] == "placement.concurrent_update"
    unknown = {"traits": ["CUSTOM_SLOW"], "resource_provider_generation": 1}
    assert "CUSTOM_SLOW" in error(placement("PUT", path, unknown), 400)["detail"]
    assert error(placement("DELETE", "/traits/CUSTOM_FAST"), 409)
    assert placement.ok("GET", "/traits?associated=true")["traits"] == [
        "CUSTOM_FAST",
        "HW_CPU_X86_AVX2",
    ]
    assert "CUSTOM_FAST" not in placement.ok("GET", "/traits?associated=false")["traits"]
    plain = placement.provider("plain")["uuid"]

    def names(query: str) -> list[str]:
        found = placement.ok("GET", f"/resource_providers?{query}")["resource_providers"]
        return [p["uuid"] for p in found]

    assert names("required=CUSTOM_FAST") == [rp]
    assert names("required=!CUSTOM_FAST") == [plain]
    assert names("required=in:CUSTOM_FAST,STORAGE_DISK_SSD") == [rp]
    assert error(placement("GET", "/resource_providers?required=!CUSTOM_FAST", None, "1.21"), 400)
    assert error(placement("GET", "/resource_providers?required=CUSTOM_FAST", None, "1.17"), 400)
    assert error(placement("GET", "/resource_providers?required=CUSTOM_NOPE"), 400)
    assert placement("DELETE", path).status_code == 204
    assert placement.ok("GET", path) == {"traits": [], "resource_provider_generation": 2}


# --- aggregates ----------------------------------------------------------------------


def test_aggregates_before_and_after_1_19(placement):
    rp = placement.provider("rp")["uuid"]
    other = placement.provider("other")["uuid"]
    path = f"/resource_providers/{rp}/aggregates"
    agg1, agg2 = sorted([new_id(), new_id()])
    assert error(placement("GET", path, None, "1.0"), 404)
    assert placement.ok("PUT", path, [agg1], "1.1") == {"aggregates": [agg1]}
    assert placement.ok("GET", path, version="1.18") == {"aggregates": [agg1]}
    assert placement.ok("GET", f"/resource_providers/{rp}")["generation"] == 0
    shown = placement.ok("GET", path)
    assert shown == {"aggregates": [agg1], "resource_provider_generation": 0}
    both = {"aggregates": [agg1, agg2], "resource_provider_generation": 0}
    assert placement.ok("PUT", path, both)["resource_provider_generation"] == 1
    assert error(placement("PUT", path, both), 409)["code"] == "placement.concurrent_update"
    assert error(placement("PUT", path, [agg1, agg1], "1.1"), 400)
    assert error(
        placement("PUT", path, {"aggregates": ["nope"], "resource_provider_generation": 1}), 400
    )

    def members(query: str, version: str = "1.39") -> list[str]:
        found = placement.ok("GET", f"/resource_providers?{query}", version=version)
        return [p["uuid"] for p in found["resource_providers"]]

    assert members(f"member_of={agg2}", "1.3") == [rp]
    assert members(f"member_of=in:{agg2},{new_id()}") == [rp]
    assert members(f"member_of=!{agg1}") == [other]
    assert members(f"member_of={agg1}&member_of={agg2}") == [rp]
    assert error(placement("GET", f"/resource_providers?member_of={agg1}", None, "1.2"), 400)
    assert error(placement("GET", f"/resource_providers?member_of=!{agg1}", None, "1.31"), 400)
    twice = placement("GET", f"/resource_providers?member_of={agg1}&member_of={agg2}", None, "1.23")
    assert error(twice, 400)["code"] == "placement.query.duplicate_key"
