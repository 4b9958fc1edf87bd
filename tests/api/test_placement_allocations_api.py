"""The placement API's allocations (both formats, consumer generations, races between
creators, moves between consumers, capacity refusals), usages, and allocation
candidates (only providers with room, per microversion, filters and limit)."""

import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from cloud.placement.models import Allocation, Consumer, Inventory
from tests.api.placement_client import INVENTORY, Placement, error, new_id
from tests.helpers import token_for


@pytest.fixture
def placement(admin_api) -> Placement:
    return Placement(admin_api)


# --- allocations ---------------------------------------------------------------------


def test_allocations_in_list_form_before_1_12_and_dict_form_after(placement):
    rp = placement.provider("rp", INVENTORY)["uuid"]
    old, new = new_id(), new_id()
    listed = {"allocations": [{"resource_provider": {"uuid": rp}, "resources": {"VCPU": 1}}]}
    assert placement("PUT", f"/allocations/{old}", listed, "1.0").status_code == 204
    assert error(placement("PUT", f"/allocations/{old}", listed, "1.8"), 400)  # needs owners now
    shown = placement.ok("GET", f"/allocations/{old}", version="1.11")
    assert shown == {"allocations": {rp: {"generation": 2, "resources": {"VCPU": 1}}}}
    keyed = {
        "allocations": {rp: {"resources": {"VCPU": 2, "MEMORY_MB": 512}}},
        "project_id": "p1",
        "user_id": "u1",
    }
    assert placement("PUT", f"/allocations/{new}", keyed, "1.12").status_code == 204
    body = placement.ok("GET", f"/allocations/{new}", version="1.12")
    assert (body["project_id"], body["user_id"]) == ("p1", "u1")
    assert "consumer_generation" not in body
    body = placement.ok("GET", f"/allocations/{new}", version="1.38")
    assert (body["consumer_generation"], body["consumer_type"]) == (0, "unknown")
    used = dict(Inventory.objects.values_list("resource_class", "used"))
    assert used == {"VCPU": 3, "MEMORY_MB": 512}
    usages = placement.ok("GET", f"/resource_providers/{rp}/usages")
    assert usages["usages"] == {"VCPU": 3, "MEMORY_MB": 512}
    on_rp = placement.ok("GET", f"/resource_providers/{rp}/allocations")
    assert on_rp["allocations"][new] == {
        "resources": {"MEMORY_MB": 512, "VCPU": 2},
        "consumer_generation": 0,
    }
    assert (
        "consumer_generation"
        not in placement.ok("GET", f"/resource_providers/{rp}/allocations", version="1.27")[
            "allocations"
        ][old]
    )
    assert placement.ok("GET", f"/allocations/{new_id()}") == {"allocations": {}}


def test_consumer_generations_guard_every_write_from_1_28(placement):
    rp = placement.provider("rp", INVENTORY)["uuid"]
    consumer = new_id()
    placement.allocate(consumer, {rp: {"VCPU": 1}}, generation=None)
    assert Consumer.objects.get(uuid=consumer).generation == 0
    again = {
        "allocations": {rp: {"resources": {"VCPU": 2}}},
        "project_id": "p1",
        "user_id": "u1",
        "consumer_generation": None,
        "consumer_type": "INSTANCE",
    }
    conflict = error(placement("PUT", f"/allocations/{consumer}", again), 409)
    assert conflict["code"] == "placement.concurrent_update"
    assert "expected 0 but got None" in conflict["detail"]
    placement.allocate(consumer, {rp: {"VCPU": 2}}, generation=0)
    stale = error(
        placement("PUT", f"/allocations/{consumer}", {**again, "consumer_generation": 0}), 409
    )
    assert stale["code"] == "placement.concurrent_update"
    assert Inventory.objects.get(resource_class="VCPU").used == 2
    unknown = {**again, "consumer_generation": 3}
    assert (
        "expected null"
        in error(placement("PUT", f"/allocations/{new_id()}", unknown), 409)["detail"]
    )
    # An empty object with the current generation is the safe delete.
    placement.ok(
        "PUT",
        f"/allocations/{consumer}",
        {**again, "allocations": {}, "consumer_generation": 1},
        status=204,
    )
    assert not Allocation.objects.exists() and not Consumer.objects.exists()
    assert Inventory.objects.get(resource_class="VCPU").used == 0


def test_a_new_consumers_claim_is_one_statement_after_the_provider_lookup(placement):
    """The scheduler's kind of write (a null generation from 1.28, on two providers here):
    the provider lookup, then one claim in its own transaction; owners kept."""
    first = placement.provider("rp1", INVENTORY)["uuid"]
    second = placement.provider("rp2", INVENTORY)["uuid"]
    consumer = new_id()
    body = {
        "allocations": {first: {"resources": {"VCPU": 1}}, second: {"resources": {"VCPU": 2}}},
        "project_id": "p1",
        "user_id": "u1",
        "consumer_generation": None,
        "consumer_type": "INSTANCE",
    }
    placement("GET", "/")  # the token's first check is cached before counting
    with CaptureQueriesContext(connection) as queries:
        assert placement("PUT", f"/allocations/{consumer}", body).status_code == 204
    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    # In the test's transaction, the claim's own is a savepoint.
    assert statements == ["SELECT", "SAVEPOINT", "WITH", "RELEASE"], statements
    shown = placement.ok("GET", f"/allocations/{consumer}", version="1.38")
    assert (shown["project_id"], shown["user_id"], shown["consumer_generation"]) == ("p1", "u1", 0)
    assert {p: a["resources"] for p, a in shown["allocations"].items()} == {
        first: {"VCPU": 1},
        second: {"VCPU": 2},
    }


@pytest.mark.parametrize(
    "second",
    [{"VCPU": 2}, {"MEMORY_MB": 256}],
    ids=["same class", "other class"],
)
def test_two_creators_of_one_consumer_cannot_both_win(transactional_db, admin_api, second):
    """Both expect the consumer to be new; whatever the interleaving, one is refused."""
    rp = Placement(admin_api).provider("rp", INVENTORY)["uuid"]
    consumer, token = new_id(), token_for("admin", "admin")
    barrier, statuses = threading.Barrier(2), []

    def create(resources: dict) -> None:
        client = APIClient()
        client.credentials(HTTP_X_AUTH_TOKEN=token)
        body = {
            "allocations": {rp: {"resources": resources}},
            "project_id": "p1",
            "user_id": "u1",
            "consumer_generation": None,
            "consumer_type": "INSTANCE",
        }
        barrier.wait()
        try:
            statuses.append(Placement(client)("PUT", f"/allocations/{consumer}", body).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(r,)) for r in ({"VCPU": 1}, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [204, 409]
    held = dict(
        Allocation.objects.filter(consumer_id=consumer).values_list("resource_class", "used")
    )
    assert held in ({"VCPU": 1}, second)
    assert Consumer.objects.get(uuid=consumer).generation == 0
    used = {rc: n for rc, n in Inventory.objects.values_list("resource_class", "used") if n}
    assert used == held


def test_allocation_bodies_per_microversion(placement):
    rp = placement.provider("rp", INVENTORY)["uuid"]
    base = {"allocations": {rp: {"resources": {"VCPU": 1}}}, "project_id": "p", "user_id": "u"}
    path = f"/allocations/{new_id()}"
    assert "consumer_generation" in error(placement("PUT", path, base, "1.28"), 400)["detail"]
    with_generation = {**base, "consumer_generation": None}
    assert "consumer_type" in error(placement("PUT", path, with_generation, "1.38"), 400)["detail"]
    assert error(
        placement("PUT", path, {**with_generation, "consumer_type": "instance"}, "1.38"), 400
    )
    mapped = {**with_generation, "mappings": {"": [rp]}}
    assert error(placement("PUT", path, mapped, "1.33"), 400)
    assert placement("PUT", path, mapped, "1.34").status_code == 204
    assert error(placement("PUT", path, {**base, "allocations": {}}, "1.27"), 400)
    assert error(placement("PUT", "/allocations/not-a-uuid", with_generation, "1.28"), 400)


@pytest.mark.parametrize(
    "resources",
    [{"VCPU": 0}, {"VCPU": "1"}, {}, {"vcpu": 1}],
)
def test_bad_allocations_are_400_and_write_nothing(placement, resources):
    rp = placement.provider("rp", INVENTORY)["uuid"]
    body = {
        "allocations": {rp: {"resources": resources}},
        "project_id": "p",
        "user_id": "u",
        "consumer_generation": None,
        "consumer_type": "INSTANCE",
    }
    assert error(placement("PUT", f"/allocations/{new_id()}", body), 400)
    assert not Allocation.objects.exists() and not Consumer.objects.exists()


def test_unknown_providers_and_classes_are_400_missing_room_409(placement):
    rp = placement.provider("rp", INVENTORY)["uuid"]
    consumer = new_id()

    def put(allocations: dict):
        body = {
            "allocations": {p: {"resources": r} for p, r in allocations.items()},
            "project_id": "p",
            "user_id": "u",
            "consumer_generation": None,
            "consumer_type": "INSTANCE",
        }
        return placement("PUT", f"/allocations/{consumer}", body)

    assert "does not exist" in error(put({new_id(): {"VCPU": 1}}), 400)["detail"]
    assert "CUSTOM_NOPE" in error(put({rp: {"CUSTOM_NOPE": 1}}), 400)["detail"]
    no_inventory = error(put({rp: {"DISK_GB": 1}}), 409)
    assert "has no DISK_GB inventory" in no_inventory["detail"]
    full = error(put({rp: {"VCPU": 5, "MEMORY_MB": 512}}), 409)
    assert full["detail"] == "Unable to allocate inventory: rp has 4 VCPU free, 5 needed"
    too_big = error(put({rp: {"MEMORY_MB": 4096}}), 409)
    assert "outside the unit limits" in too_big["detail"]
    assert not Allocation.objects.exists() and not Consumer.objects.exists()
    assert set(Inventory.objects.values_list("used", flat=True)) == {0}


def test_post_allocations_moves_resources_between_consumers(placement):
    rp = placement.provider("rp", {"VCPU": {"total": 2}})["uuid"]
    instance, migration = new_id(), new_id()
    placement.allocate(instance, {rp: {"VCPU": 2}})

    def entry(resources: dict, generation):
        return {
            "allocations": {rp: {"resources": resources}} if resources else {},
            "project_id": "p1",
            "user_id": "u1",
            "consumer_generation": generation,
            "consumer_type": "MIGRATION",
        }

    assert error(
        placement("POST", "/allocations", {migration: entry({"VCPU": 2}, None)}, "1.12"), 404
    )
    stale = {instance: entry({}, 7), migration: entry({"VCPU": 2}, None)}
    assert (
        error(placement("POST", "/allocations", stale), 409)["code"]
        == "placement.concurrent_update"
    )
    move = {instance: entry({}, 0), migration: entry({"VCPU": 2}, None)}
    placement.ok("POST", "/allocations", move, status=204)
    assert set(Allocation.objects.values_list("consumer_id", flat=True)) == {migration}
    assert Inventory.objects.get().used == 2
    too_much = {migration: entry({"VCPU": 3}, 0)}
    assert error(placement("POST", "/allocations", too_much), 409)
    assert error(placement("POST", "/allocations", {}), 400)


def test_delete_allocations(placement):
    rp = placement.provider("rp", INVENTORY)["uuid"]
    consumer = new_id()
    placement.allocate(consumer, {rp: {"VCPU": 1, "MEMORY_MB": 256}})
    generation = placement.ok("GET", f"/resource_providers/{rp}")["generation"]
    assert placement("DELETE", f"/allocations/{consumer}").status_code == 204
    assert placement.ok("GET", f"/resource_providers/{rp}")["generation"] == generation + 1
    assert set(Inventory.objects.values_list("used", flat=True)) == {0}
    assert "No allocations" in error(placement("DELETE", f"/allocations/{consumer}"), 404)["detail"]


# --- usages --------------------------------------------------------------------------


def test_project_usages(placement):
    rp = placement.provider("rp", INVENTORY)["uuid"]
    placement.allocate(new_id(), {rp: {"VCPU": 1, "MEMORY_MB": 512}})
    placement.allocate(new_id(), {rp: {"VCPU": 2}}, user_id="u2")
    placement.allocate(new_id(), {rp: {"VCPU": 1}}, project_id="p2")
    assert placement.ok("GET", "/usages?project_id=p1", version="1.9") == {
        "usages": {"VCPU": 3, "MEMORY_MB": 512}
    }
    assert placement.ok("GET", "/usages?project_id=p1&user_id=u2", version="1.9") == {
        "usages": {"VCPU": 2}
    }
    assert placement.ok("GET", "/usages?project_id=p1") == {
        "usages": {"unknown": {"consumer_count": 2, "VCPU": 3, "MEMORY_MB": 512}}
    }
    assert placement.ok("GET", "/usages?project_id=p1&consumer_type=all")["usages"]["all"] == {
        "consumer_count": 2,
        "VCPU": 3,
        "MEMORY_MB": 512,
    }
    assert placement.ok("GET", "/usages?project_id=nobody") == {"usages": {}}
    assert error(placement("GET", "/usages?project_id=p1", None, "1.8"), 404)
    assert "project_id" in error(placement("GET", "/usages"), 400)["detail"]
    assert error(placement("GET", "/usages?project_id=p1&consumer_type=all", None, "1.37"), 400)


# --- allocation candidates -----------------------------------------------------------


def test_allocation_candidates_are_only_providers_with_room(placement):
    roomy = placement.provider("roomy", INVENTORY)["uuid"]
    full = placement.provider("full", INVENTORY)["uuid"]
    placement.provider("cpu-only", {"VCPU": {"total": 64}})
    stepped = placement.provider(
        "stepped", {**INVENTORY, "MEMORY_MB": {"total": 4096, "step_size": 1024}}
    )["uuid"]
    placement.allocate(new_id(), {full: {"MEMORY_MB": 2000}})
    path = "/allocation_candidates?resources=VCPU:1,MEMORY_MB:512"
    body = placement.ok("GET", path)
    assert body["allocation_requests"] == [
        {
            "allocations": {roomy: {"resources": {"VCPU": 1, "MEMORY_MB": 512}}},
            "mappings": {"": [roomy]},
        }
    ]
    assert body["provider_summaries"] == {
        roomy: {
            "resources": {
                "MEMORY_MB": {"capacity": 2048, "used": 0},
                "VCPU": {"capacity": 4, "used": 0},
            },
            "traits": [],
            "parent_provider_uuid": None,
            "root_provider_uuid": roomy,
        }
    }
    stepped_ok = placement.ok("GET", "/allocation_candidates?resources=VCPU:1,MEMORY_MB:1024")
    assert stepped in stepped_ok["provider_summaries"]
    assert full not in stepped_ok["provider_summaries"]


def test_allocation_candidates_per_microversion(placement):
    rp = placement.provider("rp", {**INVENTORY, "DISK_GB": {"total": 10}})["uuid"]
    path = "/allocation_candidates?resources=VCPU:1"
    assert error(placement("GET", path, None, "1.9"), 404)
    old = placement.ok("GET", path, version="1.10")
    assert old["allocation_requests"] == [
        {"allocations": [{"resource_provider": {"uuid": rp}, "resources": {"VCPU": 1}}]}
    ]
    assert old["provider_summaries"] == {rp: {"resources": {"VCPU": {"capacity": 4, "used": 0}}}}
    keyed = placement.ok("GET", path, version="1.12")["allocation_requests"]
    assert keyed == [{"allocations": {rp: {"resources": {"VCPU": 1}}}}]
    assert placement.ok("GET", path, version="1.17")["provider_summaries"][rp]["traits"] == []
    every = placement.ok("GET", path, version="1.27")["provider_summaries"][rp]["resources"]
    assert set(every) == {"VCPU", "MEMORY_MB", "DISK_GB"}
    assert error(placement("GET", f"{path}&limit=1", None, "1.15"), 400)
    assert error(placement("GET", "/allocation_candidates"), 400)
    assert error(placement("GET", "/allocation_candidates?resources=CUSTOM_NOPE:1"), 400)


def test_allocation_candidates_filters_and_limit(placement):
    agg = new_id()
    names = ["a", "b", "c"]
    rps = {name: placement.provider(name, INVENTORY)["uuid"] for name in names}
    placement.ok("PUT", "/traits/CUSTOM_FAST", status=201)
    placement.ok(
        "PUT",
        f"/resource_providers/{rps['b']}/traits",
        {"traits": ["CUSTOM_FAST"], "resource_provider_generation": 1},
    )
    placement.ok(
        "PUT",
        f"/resource_providers/{rps['c']}/aggregates",
        {"aggregates": [agg], "resource_provider_generation": 1},
    )

    def found(query: str) -> list[str]:
        body = placement.ok("GET", f"/allocation_candidates?resources=VCPU:1{query}")
        by_uuid = {uuid_: name for name, uuid_ in rps.items()}
        return [by_uuid[next(iter(r["allocations"]))] for r in body["allocation_requests"]]

    assert found("") == ["a", "b", "c"]
    assert found("&limit=2") == ["a", "b"]
    assert found("&required=CUSTOM_FAST") == ["b"]
    assert found("&required=!CUSTOM_FAST") == ["a", "c"]
    assert found(f"&member_of={agg}") == ["c"]
    assert found(f"&in_tree={rps['a']}") == ["a"]
    assert found("&root_required=CUSTOM_FAST") == ["b"]
    assert error(placement("GET", "/allocation_candidates?resources=VCPU:1&limit=0"), 400)
