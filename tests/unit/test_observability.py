"""Request ids (accepted or generated, carried in task headers, on every log record)
and the JSON log format."""

import json
import logging

from celery import signals

from cloud.observability import request_id
from cloud.observability.logs import HeartbeatTaskFilter, JsonFormatter, logging_config


def test_a_client_id_is_kept_only_in_the_openstack_shape():
    rid = "req-0f3b2c1a-1111-4222-8333-944455556666"
    assert request_id.accepted(rid) == rid
    assert request_id.accepted(rid.upper().replace("REQ-", "req-")) == rid
    assert request_id.accepted("req-not-a-uuid") is None
    assert request_id.accepted("'; drop table") is None
    assert request_id.accepted(None) is None
    assert request_id.accepted(request_id.generate())


def test_tasks_published_in_a_request_carry_its_id():
    headers: dict = {}
    token = request_id.bind("req-0f3b2c1a-1111-4222-8333-944455556666")
    try:
        signals.before_task_publish.send(sender="conductor.x", headers=headers, body=())
    finally:
        request_id.unbind(token)
    assert headers["request_id"] == "req-0f3b2c1a-1111-4222-8333-944455556666"
    outside: dict = {}
    signals.before_task_publish.send(sender="conductor.x", headers=outside, body=())
    assert "request_id" not in outside


def test_every_record_gets_the_request_id():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    token = request_id.bind("req-1")
    try:
        assert request_id.RequestIdFilter().filter(record)
    finally:
        request_id.unbind(token)
    assert record.request_id == "req-1"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello you" and line["request_id"] == "req-1"
    assert line["level"] == "INFO" and line["logger"] == "x"


def test_json_is_one_setting_away():
    config = logging_config(log_format="json", level="INFO")
    assert config["handlers"]["console"]["formatter"] == "json"
    assert logging_config(log_format="plain")["handlers"]["console"]["formatter"] == "plain"
    assert config["formatters"]["json"]["()"] == "cloud.observability.logs.JsonFormatter"


def test_heartbeat_tasks_leave_celerys_info_lines_out():
    from celery.app.trace import LOG_RECEIVED, LOG_SUCCESS

    def record(logger: str, level: int, message: str, name: str) -> logging.LogRecord:
        args = ({"id": "t1", "name": name, "return_value": None, "runtime": 0.01},)
        return logging.LogRecord(logger, level, __file__, 1, message, args, None)

    kept = HeartbeatTaskFilter()
    for task in ("conductor.compute_heartbeat", "network.agent_heartbeat"):
        assert not kept.filter(record("celery.worker.strategy", logging.INFO, LOG_RECEIVED, task))
        assert not kept.filter(record("celery.app.trace", logging.INFO, LOG_SUCCESS, task))
        assert kept.filter(record("celery.app.trace", logging.ERROR, "Task %(name)s failed", task))
    build = "conductor.instance_spawned"
    assert kept.filter(record("celery.app.trace", logging.INFO, LOG_SUCCESS, build))
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    try:
        assert kept.filter(
            record("celery.app.trace", logging.INFO, LOG_SUCCESS, "conductor.compute_heartbeat")
        )
    finally:
        root.setLevel(level)
    assert "heartbeats" in logging_config()["handlers"]["console"]["filters"]
