"""Sending tasks from the control plane: casts to the conductor and to compute hosts,
requests to the scheduler (whose answer goes on to a conductor task), and the few
synchronous calls to a host (with a timeout). No other module of the control plane
sends a task (a unit test holds it); the compute worker sends its own reports
(cloud.workers.app), without Django.

Casts made inside a transaction are published only after it commits, so a
worker never looks for a row that is not there yet.

Messages for the conductors and the schedulers are built in the version their
upgrade level names (settings.UPGRADE_LEVELS, Nova's [upgrade_levels]: the
previous release while those services are being upgraded, else ours), and never
above the version this process speaks (settings.PAYLOAD_VERSION_PIN).

Messages for a compute host are given as Payloads and built here in the version
the host announced (rolling upgrade: a host one release behind gets what it can
read); a message the host is too old for is a 409 raised before the caller's
transaction commits, so nothing is half-written.
"""

from typing import Any

from celery import chain
from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings
from django.db import transaction

from cloud.api.errors import Conflict
from cloud.celery import app
from cloud.hosts.selectors import host_payload_version
from cloud.messaging import COMPUTE_MESSAGE_EXPIRES, CONDUCTOR_QUEUE, compute_queue
from cloud.payloads import Payload, PayloadTooNew, SchedulingRequest, version_key


class HostUnreachable(Exception):
    """A synchronous call to a compute host got no answer in time."""


class HostTooOld(Conflict):
    """The host speaks a payload version older than the message needs."""


class ServiceTooOld(Conflict):
    """The conductors or schedulers are pinned to a version older than the message needs."""


def host_too_old(host: str, message: type[Payload]) -> str | None:
    """Why `host` cannot read `message` (it speaks an older payload version), or None."""
    version = host_payload_version(host=host)
    if version_key(version) >= version_key(message.SINCE):
        return None
    return (
        f"Compute host {host} speaks payload version {version}, too old for "
        f"{message.KIND} (needs {message.SINCE}); upgrade the host first."
    )


def _for_host(host: str, task_name: str, args: tuple) -> list:
    """The arguments as the host reads them: Payloads built in its version."""
    if any(isinstance(a, dict) and "version" in a for a in args):
        raise TypeError(f"{task_name}: pass the Payload, not its dict (built here per host)")
    if not any(isinstance(a, Payload) for a in args):
        return list(args)
    version = host_payload_version(host=host)
    try:
        return [a.to_dict(version) if isinstance(a, Payload) else a for a in args]
    except PayloadTooNew as exc:
        raise HostTooOld(
            f"Compute host {host} speaks payload version {version}, too old for "
            f"{task_name} ({exc}); upgrade the host first."
        ) from exc


def upgrade_level(service: str) -> str:
    """The payload version messages for `service` ("conductor", "scheduler") are built in."""
    level, speaks = settings.UPGRADE_LEVELS[service], settings.PAYLOAD_VERSION_PIN
    return min(level, speaks, key=version_key)


def for_service(service: str, task_name: str, payload: Payload) -> dict[str, Any]:
    """`payload` as the conductors or schedulers read it: built in their upgrade level;
    ServiceTooOld (a 409, before anything is committed) for a message they cannot read."""
    version = upgrade_level(service)
    try:
        return payload.to_dict(version)
    except PayloadTooNew as exc:
        raise ServiceTooOld(
            f"The {service}s speak payload version {version}, too old for {task_name} "
            f"({exc}); finish their upgrade first."
        ) from exc


def cast_conductor(task_name: str, payload: Payload) -> None:
    message = for_service("conductor", task_name, payload)
    transaction.on_commit(lambda: app.send_task(task_name, args=[message], queue=CONDUCTOR_QUEUE))


def scheduler_select(request: SchedulingRequest, *, answer_to: str) -> None:
    """Ask a scheduler for a host for `request`; its answer (a SchedulerAnswer) goes to
    the conductor task `answer_to`. A chain: no task waits on another."""
    message = for_service("scheduler", "scheduler.select_destinations", request)
    transaction.on_commit(
        lambda: chain(
            app.signature("scheduler.select_destinations", args=(message,)),
            app.signature(answer_to),
        ).apply_async()
    )


def scheduler_select_batch(requests: list[SchedulingRequest], *, answer_to: str) -> None:
    """The instances of one request decided together (one candidate scan, one claim);
    the list of answers goes to the conductor task `answer_to`."""
    task = "scheduler.select_destinations_batch"
    messages = [for_service("scheduler", task, request) for request in requests]
    transaction.on_commit(
        lambda: chain(app.signature(task, args=(messages,)), app.signature(answer_to)).apply_async()
    )


def cast_compute(host: str, task_name: str, *args: Any) -> None:
    message = _for_host(host, task_name, args)
    transaction.on_commit(
        lambda: app.send_task(
            task_name,
            args=message,
            queue=compute_queue(host),
            expires=COMPUTE_MESSAGE_EXPIRES,
        )
    )


def call_compute(host: str, task_name: str, *args: Any, timeout: float) -> Any:
    """Ask a host and wait for its answer; never called from inside a worker."""
    message = _for_host(host, task_name, args)
    result = app.send_task(task_name, args=message, queue=compute_queue(host), expires=timeout)
    try:
        return result.get(timeout=timeout, propagate=True)
    except CeleryTimeout as exc:
        raise HostUnreachable(f"compute host {host} did not answer within {timeout:.0f}s") from exc
    finally:
        result.forget()
