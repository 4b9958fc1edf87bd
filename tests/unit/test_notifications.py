"""cloud.notifications: the envelope operators consume, and each payload's schema pinned.

A change to a payload's fields changes its fingerprint: bump its VERSION (a field
added: minor; removed or changed: major), note it in the module's history, and pin
the new fingerprint here. Consumers read the version in every payload."""

import json

from cloud.notifications import (
    ACTION_EVENTS,
    NAMESPACE,
    PAYLOADS,
    STEP_EVENTS,
    ExceptionPayload,
    FlavorPayload,
    InstanceActionPayload,
    envelope,
    fingerprint,
    routing_key,
)

EXPECTED = {
    "FlavorPayload": "1.0-f46e4f7cfae3d358",
    "InstanceStateUpdatePayload": "1.0-96d16594ec3c4149",
    "ExceptionPayload": "1.0-c33667fff9650d13",
    "InstanceActionPayload": "1.0-fbb1b09cfdecaad2",
    "InstanceUpdatePayload": "1.0-a277a51b015f5f2e",
}


def test_payload_schemas_are_pinned():
    assert {cls.__name__: fingerprint(cls) for cls in PAYLOADS} == EXPECTED


def _action_payload() -> InstanceActionPayload:
    return InstanceActionPayload(
        uuid="6f1c6d3e-0000-4000-8000-000000000001",
        display_name="web-1",
        host="compute-1",
        node="compute-1",
        tenant_id="p1",
        user_id="u1",
        state="error",
        task_state=None,
        power_state=0,
        flavor=FlavorPayload(flavorid="1", name="m1.tiny", vcpus=1, memory_mb=512, root_gb=1),
        image_uuid="img",
        created_at="2026-01-01T00:00:00+00:00",
        launched_at=None,
        terminated_at=None,
        action_initiator_user="u1",
        request_id="req-1",
        fault=ExceptionPayload(
            module_name="stratus",
            function_name="compute_build_and_run_instance",
            exception="Fault500",
            exception_message="No valid host was found.",
            traceback="",
        ),
    )


def test_the_envelope_is_novas_shape_and_json():
    body = envelope(
        event_type="instance.create.error",
        payload=_action_payload(),
        publisher_id="stratus-conductor:ctl-1",
        priority="ERROR",
        request_id="req-1",
    )
    assert set(body) == {
        "priority",
        "event_type",
        "publisher_id",
        "timestamp",
        "message_id",
        "request_id",
        "payload",
    }
    payload = json.loads(json.dumps(body))["payload"]
    assert payload[f"{NAMESPACE}_object.name"] == "InstanceActionPayload"
    assert payload[f"{NAMESPACE}_object.version"] == "1.0"
    data = payload[f"{NAMESPACE}_object.data"]
    assert data["flavor"]["memory_mb"] == 512
    assert data["fault"]["exception_message"] == "No valid host was found."
    assert routing_key("ERROR") == "notifications.error"


def test_event_names_are_novas():
    assert ACTION_EVENTS["create"] == "create" and ACTION_EVENTS["delete"] == "delete"
    assert ACTION_EVENTS["confirmResize"] == "resize_confirm"
    assert ACTION_EVENTS["revertResize"] == "resize_revert"
    assert set(STEP_EVENTS.values()) == {"resize_prep", "resize", "resize_finish"}
