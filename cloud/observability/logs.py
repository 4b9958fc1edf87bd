"""Log formats: plain lines, or one JSON object a line (LOG_FORMAT=json).

Both carry the request id (cloud.observability.request_id.RequestIdFilter). Used by
the Django settings and by the compute worker, which has no Django. Celery's two lines
per task (received, succeeded) are left out for the heartbeats (HeartbeatTaskFilter):
hundreds of hosts report every few seconds, and those lines were most of the log.
"""

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any

PLAIN = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# LogRecord attributes that are not extras passed by the caller.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


# The tasks every host sends every few seconds; a failed one is still logged (an error).
HEARTBEAT_TASKS = frozenset(
    {
        "conductor.compute_heartbeat",
        "conductor.volume_backend_heartbeat",
        "network.agent_heartbeat",
    }
)
_TASK_LOGGERS = frozenset({"celery.worker.strategy", "celery.app.trace"})


class HeartbeatTaskFilter(logging.Filter):
    """Drops Celery's INFO lines about a heartbeat task (LOG_LEVEL=DEBUG keeps them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or record.name not in _TASK_LOGGERS:
            return True
        args = record.args
        name = args.get("name") if isinstance(args, dict) else None
        return name not in HEARTBEAT_TASKS or logging.getLogger().level <= logging.DEBUG


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id, process,
    exception text and the extras the call passed."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "process": record.process,
            "thread": record.threadName,
        }
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in body:
                body[key] = value if isinstance(value, (str, int, float, bool)) else repr(value)
        return json.dumps(body)


def logging_config(*, log_format: str | None = None, level: str | None = None) -> dict[str, Any]:
    """A dictConfig for any Stratus process: LOG_FORMAT ("plain" or "json") and LOG_LEVEL."""
    log_format = (log_format or os.environ.get("LOG_FORMAT", "plain")).lower()
    if log_format not in ("plain", "json"):
        raise ValueError(f"LOG_FORMAT={log_format!r}: plain or json")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "cloud.observability.request_id.RequestIdFilter"},
            "heartbeats": {"()": "cloud.observability.logs.HeartbeatTaskFilter"},
        },
        "formatters": {
            "plain": {"format": PLAIN},
            "json": {"()": "cloud.observability.logs.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request_id", "heartbeats"],
            }
        },
        "root": {"handlers": ["console"], "level": level or os.environ.get("LOG_LEVEL", "INFO")},
    }
