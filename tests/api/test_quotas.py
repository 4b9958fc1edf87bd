"""os-quota-sets, limits and quota enforcement on server create (PostgreSQL)."""

import pytest
from rest_framework.test import APIClient

from cloud.identity import quotas
from cloud.identity.models import Project, Quota, User
from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.instances.models import Instance

V = "compute/v2.1"
CURRENT = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}
RESOURCES = set(quotas.RESOURCES)


def alpha() -> Project:
    return Project.objects.get(name="alpha")


def boot(client: APIClient, name: str, **extra):
    body = {
        "server": {
            "name": name,
            "imageRef": TINY_IMAGE_ID,
            "flavorRef": "1",
            "networks": "none",
            **extra,
        }
    }
    return client.post(f"/{V}/servers", body, format="json", **CURRENT)


def test_show_detail_defaults_follow_microversion(api):
    pid = alpha().id
    body = api.get(f"/{V}/os-quota-sets/{pid}", **CURRENT).json()["quota_set"]
    assert set(body) == RESOURCES | {"id"}
    assert body["id"] == pid and body["instances"] == 10 and body["ram"] == 51200
    old = api.get(f"/{V}/os-quota-sets/{pid}").json()["quota_set"]
    assert {"fixed_ips", "security_groups", "injected_files"} <= set(old)
    mid = api.get(f"/{V}/os-quota-sets/{pid}", HTTP_OPENSTACK_API_VERSION="compute 2.36").json()[
        "quota_set"
    ]
    assert "injected_files" in mid and "fixed_ips" not in mid
    defaults = api.get(f"/{V}/os-quota-sets/{pid}/defaults", **CURRENT).json()["quota_set"]
    assert defaults["cores"] == 20 and defaults["key_pairs"] == 100
    boot(api, "one")
    detail = api.get(f"/{V}/os-quota-sets/{pid}/detail", **CURRENT).json()["quota_set"]
    assert detail["instances"] == {"in_use": 1, "limit": 10, "reserved": 0}
    assert detail["cores"]["in_use"] == 1 and detail["ram"]["in_use"] == 512


def test_admin_updates_and_reverts(api, admin_api):
    pid = alpha().id
    response = admin_api.put(
        f"/{V}/os-quota-sets/{pid}",
        {"quota_set": {"instances": 3, "cores": "6", "ram": -1}},
        format="json",
        **CURRENT,
    )
    assert response.status_code == 200, response.content
    body = response.json()["quota_set"]
    assert "id" not in body and body["instances"] == 3 and body["cores"] == 6 and body["ram"] == -1
    assert api.get(f"/{V}/os-quota-sets/{pid}", **CURRENT).json()["quota_set"]["instances"] == 3
    assert admin_api.delete(f"/{V}/os-quota-sets/{pid}").status_code == 202
    assert api.get(f"/{V}/os-quota-sets/{pid}", **CURRENT).json()["quota_set"]["instances"] == 10
    assert not Quota.objects.filter(project_id=pid).exists()


@pytest.mark.parametrize(
    "quota_set, mentions",
    [
        ({"instances": "many"}, "'many' does not match"),
        ({"instances": True}, "True is not of type 'integer', 'string'"),
        ({"instances": -2}, "-2 is less than the minimum of -1"),
        ({"bogus": 1}, "Bad key"),
        ({"fixed_ips": 1}, "Bad key"),
        ({}, "quota_set"),
        ({"instances": 1, "force": "perhaps"}, "force"),
    ],
)
def test_bad_updates_are_400_and_write_nothing(admin_api, quota_set, mentions):
    response = admin_api.put(
        f"/{V}/os-quota-sets/{alpha().id}", {"quota_set": quota_set}, format="json", **CURRENT
    )
    assert response.status_code == 400, response.content
    assert mentions in response.json()["badRequest"]["message"]
    assert not Quota.objects.exists()


def test_legacy_fields_are_shown_but_not_settable(admin_api):
    response = admin_api.put(
        f"/{V}/os-quota-sets/{alpha().id}", {"quota_set": {"floating_ips": 5}}, format="json"
    )
    assert response.status_code == 400
    assert "cannot be changed" in response.json()["badRequest"]["message"]


def test_limit_below_usage_needs_force(api, admin_api):
    pid = alpha().id
    for name in ("a", "b"):
        assert boot(api, name).status_code == 202
    url = f"/{V}/os-quota-sets/{pid}"
    response = admin_api.put(url, {"quota_set": {"instances": 1}}, format="json")
    assert response.status_code == 400
    assert "already used and reserved 2" in response.json()["badRequest"]["message"]
    forced = admin_api.put(url, {"quota_set": {"instances": 1, "force": True}}, format="json")
    assert forced.status_code == 200
    assert Quota.objects.get(project_id=pid, resource="instances").hard_limit == 1


def test_members_read_their_own_quotas_only(api, admin_api):
    pid = alpha().id
    admin_pid = Project.objects.get(name="admin").id
    assert api.get(f"/{V}/os-quota-sets/{admin_pid}").status_code == 403
    assert api.get(f"/{V}/os-quota-sets/{admin_pid}/detail").status_code == 403
    response = api.put(f"/{V}/os-quota-sets/{pid}", {"quota_set": {"instances": 50}}, format="json")
    assert response.status_code == 403
    assert "os_compute_api" not in response.content.decode()
    assert api.delete(f"/{V}/os-quota-sets/{pid}").status_code == 403
    assert admin_api.get(f"/{V}/os-quota-sets/{pid}").status_code == 200
    assert admin_api.get(f"/{V}/os-quota-sets/nope").status_code == 404


def test_create_over_quota_is_403_naming_limit_usage_and_request(api, admin_api):
    pid = alpha().id
    admin_api.put(f"/{V}/os-quota-sets/{pid}", {"quota_set": {"instances": 2}}, format="json")
    assert boot(api, "a").status_code == 202
    assert boot(api, "b").status_code == 202
    response = boot(api, "c")
    assert response.status_code == 403
    assert response.json()["forbidden"]["message"] == (
        "Quota exceeded for instances: Requested 1, but already used 2 of 2 instances"
    )
    assert Instance.objects.filter(project_id=pid).count() == 2


def test_cores_and_ram_quotas(api, admin_api):
    pid = alpha().id
    admin_api.put(
        f"/{V}/os-quota-sets/{pid}", {"quota_set": {"cores": 2, "ram": 1024}}, format="json"
    )
    small = boot(api, "small", flavorRef="2")  # m1.small: 1 vCPU, 2048 MB
    assert small.status_code == 403
    assert (
        "Quota exceeded for ram: Requested 2048, but already used 0 of 1024"
        in (small.json()["forbidden"]["message"])
    )
    admin_api.put(f"/{V}/os-quota-sets/{pid}", {"quota_set": {"ram": -1}}, format="json")
    medium = boot(api, "medium", flavorRef="3")  # m1.medium: 2 vCPUs
    assert medium.status_code == 202
    again = boot(api, "tiny")
    assert again.status_code == 403
    assert (
        "cores: Requested 1, but already used 2 of 2 cores" in again.json()["forbidden"]["message"]
    )


def test_multi_create_takes_what_fits(api, admin_api):
    pid = alpha().id
    admin_api.put(f"/{V}/os-quota-sets/{pid}", {"quota_set": {"instances": 3}}, format="json")
    response = boot(api, "many", min_count=2, max_count=5, return_reservation_id=True)
    assert response.status_code == 202
    assert Instance.objects.filter(project_id=pid).count() == 3
    refused = boot(api, "more", min_count=1, max_count=2)
    assert refused.status_code == 403
    assert Instance.objects.filter(project_id=pid).count() == 3


def test_deleted_servers_free_quota(api, admin_api):
    pid = alpha().id
    admin_api.put(f"/{V}/os-quota-sets/{pid}", {"quota_set": {"instances": 1}}, format="json")
    server = boot(api, "a").json()["server"]
    assert boot(api, "b").status_code == 403
    assert api.delete(f"/{V}/servers/{server['id']}").status_code == 204
    assert boot(api, "b").status_code == 202


def test_per_user_quota(api, admin_api):
    pid = alpha().id
    alice = User.objects.get(username="alice")
    url = f"/{V}/os-quota-sets/{pid}?user_id={alice.id}"
    response = admin_api.put(url, {"quota_set": {"instances": 1}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["quota_set"]["instances"] == 1
    too_big = admin_api.put(url, {"quota_set": {"instances": 11}}, format="json")
    assert too_big.status_code == 400 and "project's limit" in too_big.content.decode()
    project_only = admin_api.put(url, {"quota_set": {"metadata_items": 1}}, format="json")
    assert project_only.status_code == 400
    assert boot(api, "a").status_code == 202
    assert boot(api, "b").status_code == 403
    assert api.get(url).json()["quota_set"]["instances"] == 1
    assert api.get(f"/{V}/os-quota-sets/{pid}").json()["quota_set"]["instances"] == 10
    assert admin_api.delete(url).status_code == 202
    assert boot(api, "b").status_code == 202


def test_metadata_items_limit(api, admin_api):
    pid = alpha().id
    admin_api.put(f"/{V}/os-quota-sets/{pid}", {"quota_set": {"metadata_items": 1}}, format="json")
    response = boot(api, "meta", metadata={"a": "1", "b": "2"})
    assert response.status_code == 403
    assert response.json()["forbidden"]["message"] == ("Maximum number of metadata items exceeds 1")
    assert not Instance.objects.exists()


def test_limits_show_usage_per_microversion(api, admin_api):
    boot(api, "a")
    absolute = api.get(f"/{V}/limits", **CURRENT).json()["limits"]["absolute"]
    assert absolute["maxTotalInstances"] == 10 and absolute["totalInstancesUsed"] == 1
    assert absolute["totalRAMUsed"] == 512 and absolute["maxTotalKeypairs"] == 100
    assert "maxPersonality" not in absolute and "maxImageMeta" not in absolute
    old = api.get(f"/{V}/limits?reserved=False").json()["limits"]
    assert old["rate"] == [] and "maxSecurityGroups" in old["absolute"]
    assert "maxImageMeta" in old["absolute"] and "maxPersonality" in old["absolute"]
    pid = alpha().id
    admin_view = admin_api.get(f"/{V}/limits?tenant_id={pid}").json()["limits"]["absolute"]
    assert admin_view["totalInstancesUsed"] == 1
    admin_pid = Project.objects.get(name="admin").id
    assert api.get(f"/{V}/limits?tenant_id={admin_pid}").status_code == 403
