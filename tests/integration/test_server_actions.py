"""Server actions end to end on the test hypervisor: API -> compute.<host> (libvirt)
-> conductor, with the state machine's 409s, locks, resetState, console output and
the instance actions that record it all."""

import os

import pytest
import redis
from rest_framework.test import APIClient

from cloud.celery import app
from cloud.instances.models import InstanceAction, InstanceFault
from cloud.messaging import compute_queue
from cloud.payloads import ActionRequest
from cloud.rpc import call_compute
from tests.helpers import create_server, show, wait_status
from tests.integration.conftest import _client, wait_for

V21 = "/compute/v2.1/servers"


def _at(client: APIClient, version: str) -> APIClient:
    """The same caller at another microversion (credentials override per-request headers)."""
    other = APIClient()
    other.credentials(
        HTTP_X_AUTH_TOKEN=client._credentials["HTTP_X_AUTH_TOKEN"],
        HTTP_OPENSTACK_API_VERSION=f"compute {version}",
    )
    return other


def _act(client, server_id: str, body: dict):
    # As openstacksdk sends actions: with an empty Accept header.
    return client.post(f"{V21}/{server_id}/action", body, format="json", HTTP_ACCEPT="")


def _accepted(client, server_id: str, body: dict) -> None:
    response = _act(client, server_id, body)
    assert response.status_code == 202, response.content
    assert response.content == b""


def _active(client, name: str) -> dict:
    created = create_server(client, name)
    server = wait_status(client, created["id"], {"ACTIVE", "ERROR"})
    assert server["status"] == "ACTIVE", server.get("fault")
    return server


def _settled(client, server_id: str, status: str) -> dict:
    """Wait for `status` with no task running (the conductor wrote the outcome)."""
    wait_for(
        lambda: (
            (s := show(client, server_id))
            and s["status"] == status
            and s["OS-EXT-STS:task_state"] is None
        ),
        30,
        message=f"{server_id} settled in {status}",
    )
    return show(client, server_id)


def _hypervisor_state(admin_client, server_id: str) -> str:
    response = admin_client.get(f"{V21}/{server_id}/diagnostics")
    assert response.status_code == 200, response.content
    return response.json()["state"]


def _events(server_id: str, action: str) -> list[tuple[str, str | None, str | None]]:
    record = InstanceAction.objects.get(instance_uuid=server_id, action=action)
    return [(e.event, e.result, e.host) for e in record.events.all()]


@pytest.mark.parametrize("kind", ["SOFT", "HARD", "hard"])
def test_reboot(admin_client, kind):
    server = _active(admin_client, f"reboot-{kind}")
    _accepted(admin_client, server["id"], {"reboot": {"type": kind}})
    after = _settled(admin_client, server["id"], "ACTIVE")
    assert after["OS-EXT-STS:power_state"] == 1
    assert _hypervisor_state(admin_client, server["id"]) == "running"
    host = server["OS-EXT-SRV-ATTR:host"]
    assert _events(server["id"], "reboot") == [("compute_reboot_instance", "Success", host)]
    action = InstanceAction.objects.get(instance_uuid=server["id"], action="reboot")
    assert action.finish_time is not None and action.message is None


def test_stop_start_and_hard_reboot_of_a_stopped_server(admin_client):
    server = _active(admin_client, "stop-start")
    _accepted(admin_client, server["id"], {"os-stop": None})
    stopped = _settled(admin_client, server["id"], "SHUTOFF")
    assert (stopped["OS-EXT-STS:vm_state"], stopped["OS-EXT-STS:power_state"]) == ("stopped", 4)
    assert _hypervisor_state(admin_client, server["id"]) == "shutdown"

    _accepted(admin_client, server["id"], {"os-start": None})
    assert _settled(admin_client, server["id"], "ACTIVE")["OS-EXT-STS:power_state"] == 1
    assert _hypervisor_state(admin_client, server["id"]) == "running"

    _accepted(admin_client, server["id"], {"os-stop": None})
    _settled(admin_client, server["id"], "SHUTOFF")
    _accepted(admin_client, server["id"], {"reboot": {"type": "HARD"}})
    assert _settled(admin_client, server["id"], "ACTIVE")["OS-EXT-STS:power_state"] == 1


def test_pause_unpause_suspend_resume(member_client, admin_client):
    server = _active(member_client, "pauser")
    steps = [
        ("pause", "PAUSED", 3, "paused"),
        ("unpause", "ACTIVE", 1, "running"),
        ("suspend", "SUSPENDED", 4, "shutdown"),
        ("resume", "ACTIVE", 1, "running"),
    ]
    for action, status, power_state, hypervisor in steps:
        _accepted(member_client, server["id"], {action: None})
        after = _settled(member_client, server["id"], status)
        assert after["OS-EXT-STS:power_state"] == power_state, action
        assert _hypervisor_state(admin_client, server["id"]) == hypervisor, action
        assert [r for _, r, _ in _events(server["id"], action)] == ["Success"]


def test_conflicting_actions_answer_409_naming_the_state(admin_client):
    server = _active(admin_client, "conflicts")
    uuid = server["id"]
    response = _act(admin_client, uuid, {"os-start": None})
    assert response.status_code == 409
    assert response.json() == {
        "conflictingRequest": {
            "code": 409,
            "message": f"Cannot 'start' instance {uuid} while it is in vm_state active",
        }
    }
    _accepted(admin_client, uuid, {"os-stop": None})
    _settled(admin_client, uuid, "SHUTOFF")
    for body, method in (
        ({"pause": None}, "pause"),
        ({"suspend": None}, "suspend"),
        ({"reboot": {"type": "SOFT"}}, "reboot"),
        ({"os-stop": None}, "stop"),
    ):
        response = _act(admin_client, uuid, body)
        assert response.status_code == 409, body
        assert response.json()["conflictingRequest"]["message"] == (
            f"Cannot '{method}' instance {uuid} while it is in vm_state stopped"
        )
    # Only the refused ones are not recorded: create, stop.
    assert {a.action for a in InstanceAction.objects.filter(instance_uuid=uuid)} == {
        "create",
        "stop",
    }


def test_an_action_while_another_runs_is_refused_by_task_state(admin_client):
    server = _active(admin_client, "busy")
    uuid = server["id"]
    # Two requests back to back: the second finds the first's task_state (or, if the
    # host was quicker than this test, the paused vm_state), never both accepted.
    _accepted(admin_client, uuid, {"pause": None})
    response = _act(admin_client, uuid, {"suspend": None})
    assert response.status_code == 409
    message = response.json()["conflictingRequest"]["message"]
    assert message in (
        f"Cannot 'suspend' instance {uuid} while it is in task_state pausing",
        f"Cannot 'suspend' instance {uuid} while it is in vm_state paused",
    )
    _settled(admin_client, uuid, "PAUSED")


def test_bad_bodies_answer_400(admin_client):
    server = _active(admin_client, "bad-bodies")
    for body in (
        {"reboot": {"type": "GENTLE"}},
        {"reboot": None},
        {"reboot": {"type": "SOFT", "force": True}},
        {"os-resetState": {"state": "stopped"}},
        {"os-resetState": None},
        {"os-getConsoleOutput": {"length": "ten"}},
        {"os-getConsoleOutput": {"length": -2}},
        {"os-getConsoleOutput": None},
        {"lock": {"locked_reason": "x" * 256}},
        {"lock": {"why": "because"}},
        {"teleport": None},
        {"pause": None, "unpause": None},
        ["pause"],
    ):
        response = _act(admin_client, server["id"], body)
        assert response.status_code == 400, (body, response.content)
        assert set(response.json()) == {"badRequest"}, body
    unknown = _act(admin_client, server["id"], {"teleport": None}).json()["badRequest"]
    assert unknown["message"] == "There is no such action: teleport"
    assert _act(admin_client, "not-a-server", {"pause": None}).status_code == 404


def test_lock_blocks_non_admins_until_unlocked(member_client, admin_client):
    server = _active(member_client, "locked")
    uuid = server["id"]
    _accepted(member_client, uuid, {"lock": {"locked_reason": "maintenance"}})
    shown = show(member_client, uuid)
    assert (shown["locked"], shown["locked_reason"]) == (True, "maintenance")
    for body in ({"pause": None}, {"os-stop": None}, {"reboot": {"type": "HARD"}}):
        response = _act(member_client, uuid, body)
        assert response.status_code == 409, body
        assert response.json()["conflictingRequest"]["message"] == f"Instance {uuid} is locked"
    response = member_client.delete(f"{V21}/{uuid}")
    assert response.status_code == 409
    assert show(member_client, uuid)["status"] == "ACTIVE"

    # An admin is not held by the lock.
    _accepted(admin_client, uuid, {"pause": None})
    _settled(admin_client, uuid, "PAUSED")
    _accepted(member_client, uuid, {"unlock": None})
    assert show(member_client, uuid)["locked"] is False
    _accepted(member_client, uuid, {"unpause": None})
    _settled(member_client, uuid, "ACTIVE")

    # An admin's lock on a member's server only an admin lifts.
    _accepted(admin_client, uuid, {"lock": None})
    assert _act(member_client, uuid, {"unlock": None}).status_code == 403
    _accepted(admin_client, uuid, {"unlock": None})
    assert {a.action for a in InstanceAction.objects.filter(instance_uuid=uuid)} >= {
        "lock",
        "unlock",
    }


def test_locked_shows_per_microversion(member_client):
    server = _active(member_client, "lock-versions")
    _accepted(member_client, server["id"], {"lock": {"locked_reason": "why"}})
    for version, keys in (("2.8", set()), ("2.9", {"locked"}), ("2.73", {"locked", "reason"})):
        body = _at(member_client, version).get(f"{V21}/{server['id']}").json()["server"]
        assert ("locked" in body) == ("locked" in keys), version
        assert ("locked_reason" in body) == ("reason" in keys), version
    # Before 2.73 a lock body's reason is ignored, as Nova does.
    _accepted(member_client, server["id"], {"unlock": None})
    _accepted(_at(member_client, "2.72"), server["id"], {"lock": {"locked_reason": "ignored"}})
    assert show(member_client, server["id"])["locked_reason"] is None


def test_reset_state_is_for_admins(member_client, admin_client):
    server = _active(member_client, "reset")
    uuid = server["id"]
    assert _act(member_client, uuid, {"os-resetState": {"state": "error"}}).status_code == 403
    _accepted(admin_client, uuid, {"os-resetState": {"state": "error"}})
    shown = show(admin_client, uuid)
    assert (shown["status"], shown["OS-EXT-STS:task_state"]) == ("ERROR", None)
    _accepted(admin_client, uuid, {"os-resetState": {"state": "active"}})
    assert show(admin_client, uuid)["status"] == "ACTIVE"
    assert [a.action for a in InstanceAction.objects.filter(instance_uuid=uuid)].count(
        "resetState"
    ) == 2


def test_a_failed_reboot_leaves_error_with_a_fault(admin_client):
    server = _active(admin_client, "doomed")
    uuid = server["id"]
    _accepted(admin_client, uuid, {"os-stop": None})
    _settled(admin_client, uuid, "SHUTOFF")
    # The admin claims it is active; a soft reboot then finds no running guest.
    _accepted(admin_client, uuid, {"os-resetState": {"state": "active"}})
    _accepted(admin_client, uuid, {"reboot": {"type": "SOFT"}})
    failed = _settled(admin_client, uuid, "ERROR")
    assert failed["OS-EXT-STS:power_state"] == 4
    assert "not running" in failed["fault"]["message"]
    assert failed["fault"]["message"].startswith(
        f"Could not reboot the instance on {server['OS-EXT-SRV-ATTR:host']}"
    )
    (event,) = InstanceAction.objects.get(instance_uuid=uuid, action="reboot").events.all()
    assert (event.result, bool(event.traceback)) == ("Error", True)
    assert InstanceAction.objects.get(instance_uuid=uuid, action="reboot").message == "Error"
    # A hard reboot is the way out of ERROR.
    _accepted(admin_client, uuid, {"reboot": {"type": "HARD"}})
    assert _settled(admin_client, uuid, "ACTIVE")["OS-EXT-STS:power_state"] == 1


def test_a_redelivered_action_ends_in_the_same_state(admin_client):
    server = _active(admin_client, "twice")
    uuid = server["id"]
    host = server["OS-EXT-SRV-ATTR:host"]
    _accepted(admin_client, uuid, {"pause": None})
    _settled(admin_client, uuid, "PAUSED")
    action = InstanceAction.objects.get(instance_uuid=uuid, action="pause")
    # The same message again, as acks_late redelivers it after a worker crash.
    app.send_task(
        "compute.pause_instance",
        args=[
            ActionRequest(
                instance_uuid=uuid,
                name=server["OS-EXT-SRV-ATTR:instance_name"],
                request_id=action.request_id,
                action="pause",
                task_state="pausing",
            ).to_dict()
        ],
        queue=compute_queue(host),
    )
    # A synchronous call queued behind it returns once the host has handled it; then
    # the conductor has its report once its queue is empty and nothing is unacked.
    assert uuid in call_compute(host, "compute.list_instances", timeout=10)
    broker = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    wait_for(
        lambda: not broker.llen("conductor") and not broker.hlen("unacked"),
        15,
        interval=0.1,
        message="conductor drained",
    )
    shown = _settled(admin_client, uuid, "PAUSED")
    assert shown["OS-EXT-STS:power_state"] == 3
    assert _hypervisor_state(admin_client, uuid) == "paused"
    assert len(_events(uuid, "pause")) == 1
    assert not InstanceFault.objects.filter(instance_uuid=uuid).exists()


def test_console_output_on_the_test_hypervisor_is_its_simulated_log(member_client):
    server = _active(member_client, "console")
    # The compute's console log of the guest (tests/integration/test_consoles.py).
    wait_for(
        lambda: (
            "started"
            in _act(member_client, server["id"], {"os-getConsoleOutput": {}}).json()["output"]
        ),
        15,
        message="the start in the console log",
    )
    response = _act(member_client, server["id"], {"os-getConsoleOutput": {"length": 1}})
    assert response.status_code == 200
    assert response.json()["output"].splitlines()[-1].endswith("started (booted)")


def test_instance_actions_list_and_show(member_client, admin_client):
    server = _active(member_client, "history")
    uuid = server["id"]
    _accepted(member_client, uuid, {"os-stop": None})
    _settled(member_client, uuid, "SHUTOFF")
    host = show(admin_client, uuid)["OS-EXT-SRV-ATTR:host"]

    listed = member_client.get(f"{V21}/{uuid}/os-instance-actions").json()["instanceActions"]
    assert [a["action"] for a in listed] == ["stop", "create"]
    assert set(listed[0]) == {
        "action",
        "instance_uuid",
        "request_id",
        "user_id",
        "project_id",
        "start_time",
        "message",
        "updated_at",
    }
    old = _at(member_client, "2.57").get(f"{V21}/{uuid}/os-instance-actions").json()
    old = old["instanceActions"]
    assert "updated_at" not in old[0]
    page = member_client.get(f"{V21}/{uuid}/os-instance-actions?limit=1").json()
    assert [a["action"] for a in page["instanceActions"]] == ["stop"]
    assert page["links"][0]["rel"] == "next"
    rest = member_client.get(
        f"{V21}/{uuid}/os-instance-actions?marker={listed[0]['request_id']}"
    ).json()["instanceActions"]
    assert [a["action"] for a in rest] == ["create"]

    stop = listed[0]["request_id"]
    path = f"{V21}/{uuid}/os-instance-actions/{stop}"
    mine = member_client.get(path).json()["instanceAction"]
    (event,) = mine["events"]
    assert (event["event"], event["result"]) == ("compute_stop_instance", "Success")
    assert event["hostId"] and "host" not in event and "traceback" not in event
    assert "details" in event
    theirs = admin_client.get(path).json()["instanceAction"]
    assert theirs["events"][0]["host"] == host
    assert "traceback" in theirs["events"][0]
    early = _at(member_client, "2.50").get(path).json()
    assert "events" not in early["instanceAction"]
    assert member_client.get(f"{V21}/{uuid}/os-instance-actions/req-nope").status_code == 404


def test_other_projects_cannot_act_or_read(member_client, admin_client):
    server = _active(admin_client, "admins-own")
    other = _client("bob", "beta", "member")
    assert _act(other, server["id"], {"pause": None}).status_code == 404
    assert other.get(f"{V21}/{server['id']}/os-instance-actions").status_code == 404
    assert show(admin_client, server["id"])["status"] == "ACTIVE"
