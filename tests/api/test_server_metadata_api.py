"""Server metadata through the compute API, as Nova answers it: list, merge (POST),
replace (PUT), one item (show, set, delete); Nova's body checks; the metadata_items
quota (403); the states and the lock that refuse a change (409); another project's
server is missing (404)."""

import pytest
from rest_framework.test import APIClient

from cloud.identity.models import Project
from cloud.identity.services import project_user_ensure
from cloud.instances.models import Instance
from tests.helpers import PASSWORD, create_server, token_for

V = "/compute/v2.1"
LATEST = {"HTTP_OPENSTACK_API_VERSION": "compute 2.96"}


def error(response, code: int) -> str:
    assert response.status_code == code, response.content
    ((_, body),) = response.json().items()
    return body["message"]


def _active(server_id: str, **values) -> None:
    """The server as its host leaves it once built (no worker runs in these tests)."""
    Instance.objects.filter(uuid=server_id).update(
        vm_state="active", task_state=None, power_state=1, host="h1", node="h1", **values
    )


@pytest.fixture
def server(api) -> str:
    server_id = create_server(api, "meta", metadata={"a": "1"})["id"]
    _active(server_id)
    return server_id


def stored(server_id: str) -> dict:
    return Instance.objects.get(uuid=server_id).metadata


def test_list_merge_replace_and_items(api, server):
    path = f"{V}/servers/{server}/metadata"
    assert api.get(path).json() == {"metadata": {"a": "1"}}
    merged = api.post(path, {"metadata": {"b": "2", "a": "one"}}, format="json")
    assert merged.status_code == 200
    assert merged.json() == {"metadata": {"a": "one", "b": "2"}}
    replaced = api.put(path, {"metadata": {"c": "3"}}, format="json")
    assert replaced.status_code == 200 and replaced.json() == {"metadata": {"c": "3"}}
    assert stored(server) == {"c": "3"}

    assert api.get(f"{path}/c").json() == {"meta": {"c": "3"}}
    assert error(api.get(f"{path}/zz"), 404) == "Metadata item was not found"
    put = api.put(f"{path}/key: with.all-_", {"meta": {"key: with.all-_": "v"}}, format="json")
    assert put.status_code == 200 and put.json() == {"meta": {"key: with.all-_": "v"}}
    deleted = api.delete(f"{path}/c")
    assert deleted.status_code == 204 and deleted.content == b""
    assert error(api.delete(f"{path}/c"), 404) == "Metadata item was not found"
    assert stored(server) == {"key: with.all-_": "v"}
    emptied = api.put(path, {"metadata": {}}, format="json")
    assert emptied.json() == {"metadata": {}} and stored(server) == {}
    assert api.get(f"{V}/servers/{server}", **LATEST).json()["server"]["metadata"] == {}


@pytest.mark.parametrize(
    "body",
    [
        {"metadata": {"bad/key": "v"}},
        {"metadata": {"": "v"}},
        {"metadata": {"k" * 256: "v"}},
        {"metadata": {"k": "v" * 256}},
        {"metadata": {"k": 1}},
        {"metadata": {"k": None}},
        {"metadata": ["k"]},
        {"metadata": {"k": "v"}, "more": {}},
        {"meta": {"k": "v"}},
        {},
        None,
    ],
)
def test_bad_metadata_bodies_are_400_and_change_nothing(api, server, body):
    path = f"{V}/servers/{server}/metadata"
    error(api.post(path, body, format="json"), 400)
    error(api.put(path, body, format="json"), 400)
    assert stored(server) == {"a": "1"}


@pytest.mark.parametrize(
    ("key", "body", "message"),
    [
        ("a", {"meta": {"b": "2"}}, "Request body and URI mismatch"),
        ("a", {"meta": {"a": "1", "b": "2"}}, "has too many properties"),
        ("a", {"meta": {}}, "should be non-empty"),
        ("a", {"metadata": {"a": "2"}}, "meta"),
        ("a", {"meta": {"a": 2}}, "string"),
    ],
)
def test_setting_one_item_takes_exactly_the_key_of_the_url(api, server, key, body, message):
    response = api.put(f"{V}/servers/{server}/metadata/{key}", body, format="json")
    assert message in error(response, 400)
    assert stored(server) == {"a": "1"}


def test_the_metadata_items_quota_counts_the_items_the_server_would_have(api, admin_api, server):
    project = Project.objects.get(name="alpha").id
    admin_api.put(
        f"{V}/os-quota-sets/{project}", {"quota_set": {"metadata_items": 2}}, format="json"
    )
    path = f"{V}/servers/{server}/metadata"
    assert api.post(path, {"metadata": {"b": "2"}}, format="json").status_code == 200
    over = api.post(path, {"metadata": {"c": "3"}}, format="json")
    assert error(over, 403) == "Maximum number of metadata items exceeds 2"
    item = api.put(f"{path}/c", {"meta": {"c": "3"}}, format="json")
    assert error(item, 403) == "Maximum number of metadata items exceeds 2"
    assert api.put(f"{path}/a", {"meta": {"a": "x"}}, format="json").status_code == 200
    too_many = api.put(path, {"metadata": {"x": "1", "y": "2", "z": "3"}}, format="json")
    assert error(too_many, 403) == "Maximum number of metadata items exceeds 2"
    assert api.put(path, {"metadata": {"x": "1", "y": "2"}}, format="json").status_code == 200
    assert stored(server) == {"x": "1", "y": "2"}


@pytest.mark.parametrize(
    ("vm_state", "task_state", "refused"),
    [
        ("building", "scheduling", "vm_state building"),
        ("error", None, "vm_state error"),
        ("resized", None, "vm_state resized"),
        ("active", "rebooting", "task_state rebooting"),
        ("stopped", "powering-on", "task_state powering-on"),
    ],
)
def test_a_busy_or_broken_server_refuses_changes_409(api, server, vm_state, task_state, refused):
    Instance.objects.filter(uuid=server).update(vm_state=vm_state, task_state=task_state)
    path = f"{V}/servers/{server}/metadata"
    update = api.post(path, {"metadata": {"b": "2"}}, format="json")
    assert error(update, 409) == (
        f"Cannot 'update metadata' instance {server} while it is in {refused}"
    )
    error(api.put(path, {"metadata": {}}, format="json"), 409)
    error(api.put(f"{path}/b", {"meta": {"b": "2"}}, format="json"), 409)
    assert error(api.delete(f"{path}/a"), 409) == (
        f"Cannot 'delete metadata' instance {server} while it is in {refused}"
    )
    assert api.get(path).status_code == 200
    assert stored(server) == {"a": "1"}


@pytest.mark.parametrize("vm_state", ["active", "stopped", "paused", "suspended"])
def test_an_idle_server_takes_changes_in_the_states_nova_allows(api, server, vm_state):
    Instance.objects.filter(uuid=server).update(vm_state=vm_state)
    path = f"{V}/servers/{server}/metadata"
    assert api.post(path, {"metadata": {"b": "2"}}, format="json").status_code == 200


def test_a_locked_server_refuses_its_owner_but_not_an_admin(api, admin_api, server):
    _active(server, locked=True, locked_by="admin")
    path = f"{V}/servers/{server}/metadata"
    assert error(api.post(path, {"metadata": {"b": "2"}}, format="json"), 409) == (
        f"Instance {server} is locked"
    )
    error(api.delete(f"{path}/a"), 409)
    assert admin_api.post(path, {"metadata": {"b": "2"}}, format="json").status_code == 200
    assert admin_api.delete(f"{path}/a").status_code == 204
    assert stored(server) == {"b": "2"}


def test_another_projects_server_is_missing_and_a_reader_may_only_read(
    api, admin_api, server, seeded
):
    project_user_ensure(project_name="beta", username="bob", password=PASSWORD, role_name="member")
    project_user_ensure(
        project_name="alpha", username="rita", password=PASSWORD, role_name="reader"
    )
    beta, reader = APIClient(), APIClient()
    beta.credentials(HTTP_X_AUTH_TOKEN=token_for("bob", "beta"))
    reader.credentials(HTTP_X_AUTH_TOKEN=token_for("rita", "alpha"))
    path = f"{V}/servers/{server}/metadata"
    missing = f"Instance {server} could not be found."
    assert error(beta.get(path), 404) == missing
    assert error(beta.post(path, {"metadata": {"b": "2"}}, format="json"), 404) == missing
    assert error(beta.delete(f"{path}/a"), 404) == missing
    assert reader.get(path).json() == {"metadata": {"a": "1"}}
    assert reader.get(f"{path}/a").status_code == 200
    error(reader.post(path, {"metadata": {"b": "2"}}, format="json"), 403)
    error(reader.put(f"{path}/a", {"meta": {"a": "2"}}, format="json"), 403)
    error(reader.delete(f"{path}/a"), 403)
    assert admin_api.get(path).json() == {"metadata": {"a": "1"}}
    assert stored(server) == {"a": "1"}
