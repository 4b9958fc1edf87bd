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

Messages for the network controller (queue `network`) are built in its upgrade level
like the conductor's; messages for a host's network agent (`network.<host>`) are built
in the version the host announced, as for its compute: the agent is deployed with the
host's compute and upgraded with it.

Messages for a compute host are given as Payloads and built here in the version
the host announced (rolling upgrade: a host one release behind gets what it can
read); a message the host is too old for is a 409 raised before the caller's
transaction commits, so nothing is half-written.

Messages for a volume backend's worker (`volume.<backend>`) are built in the version
its heartbeat announced (ours until it has reported), like a host's.

Notifications for operators (cloud.notifications) are published here too, after
the transaction commits, on the notifications exchange of the same broker.
"""

import logging
import socket
import threading
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import kombu.exceptions
from celery import chain
from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings
from django.db import transaction
from kombu import Exchange, Queue

from cloud.api.errors import Conflict
from cloud.celery import app
from cloud.hosts.selectors import host_payload_version
from cloud.messaging import (
    COMPUTE_MESSAGE_EXPIRES,
    CONDUCTOR_QUEUE,
    NETWORK_QUEUE,
    compute_queue,
    network_agent_queue,
    volume_queue,
)
from cloud.notifications import ERROR, INFO, NotificationPayload, envelope, routing_key
from cloud.observability import request_id as request_ids
from cloud.payloads import Payload, PayloadTooNew, SchedulingRequest, version_key

log = logging.getLogger(__name__)


class HostUnreachable(Exception):
    """A synchronous call to a compute host got no answer in time."""


class HostTooOld(Conflict):
    """The host speaks a payload version older than the message needs."""


class ServiceTooOld(Conflict):
    """The conductors or schedulers are pinned to a version older than the message needs."""


def host_too_old(host: str, message: type[Payload], needs: str | None = None) -> str | None:
    """Why `host` cannot read `message` (it speaks an older payload version than the
    message's, or than `needs` when what is asked came later than the message), or None."""
    version = host_payload_version(host=host)
    needed = max(message.SINCE, needs or message.SINCE, key=version_key)
    if version_key(version) >= version_key(needed):
        return None
    return (
        f"Compute host {host} speaks payload version {version}, too old for "
        f"{message.KIND} (needs {needed}); upgrade the host first."
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


def cast_conductor(
    task_name: str, payload: Payload, *, undo: Callable[[], None] | None = None
) -> None:
    """Cast to the conductors once the transaction commits. When the broker stays away
    past the publish retries, `undo` (if given) takes back what the transaction wrote,
    then the error goes on to the caller (the api answers 503)."""
    message = for_service("conductor", task_name, payload)
    _send_on_commit(
        task_name, lambda: app.send_task(task_name, args=[message], queue=CONDUCTOR_QUEUE), undo
    )


def _send_on_commit(
    task_name: str, send: Callable[[], Any], undo: Callable[[], None] | None
) -> None:
    """`send` once the transaction commits; when the broker stays away past the publish
    retries, `undo` (if given) takes back what the transaction wrote, then the error
    goes on to the caller (the api answers 503)."""

    def attempt() -> None:
        try:
            send()
        except kombu.exceptions.OperationalError:
            if undo is not None:
                log.warning("%s not sent (broker unavailable): undoing", task_name)
                undo()
            raise

    transaction.on_commit(attempt)


def scheduler_select(
    request: SchedulingRequest, *, answer_to: str, undo: Callable[[], None] | None = None
) -> None:
    """Ask a scheduler for a host for `request`; its answer (a SchedulerAnswer) goes to
    the conductor task `answer_to`. A chain: no task waits on another."""
    task = "scheduler.select_destinations"
    message = for_service("scheduler", task, request)
    _send_on_commit(
        task,
        lambda: chain(app.signature(task, args=(message,)), app.signature(answer_to)).apply_async(),
        undo,
    )


def scheduler_select_batch(
    requests: list[SchedulingRequest], *, answer_to: str, undo: Callable[[], None] | None = None
) -> None:
    """The instances of one request decided together (one candidate scan, one claim);
    the list of answers goes to the conductor task `answer_to`."""
    task = "scheduler.select_destinations_batch"
    messages = [for_service("scheduler", task, request) for request in requests]
    _send_on_commit(
        task,
        lambda: chain(
            app.signature(task, args=(messages,)), app.signature(answer_to)
        ).apply_async(),
        undo,
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


def _notification_queues() -> tuple[Exchange, list[Queue]]:
    exchange = Exchange(settings.NOTIFICATIONS_EXCHANGE, type="topic", durable=True)
    return exchange, [
        Queue(routing_key(p), exchange, routing_key=routing_key(p), durable=True)
        for p in (INFO, ERROR)
    ]


@dataclass
class _Notification:
    event_type: str | Callable[[], str]
    build: Callable[[], NotificationPayload | None]
    publisher_id: str
    priority: str
    request_id: str | None


class _Batch:
    """The notifications of one transaction (one savepoint level of it), published
    together when it commits: their payloads are built then, sharing what they read
    (`committed`), and go out through one producer."""

    notification = "batch"  # tests tell the casts from the notifications

    def __init__(self, savepoints: tuple[str, ...]) -> None:
        self.savepoints = savepoints
        self.items: list[_Notification] = []
        self.sent = False
        self.reads: dict[Any, Any] = {}

    def __call__(self) -> None:
        self.sent = True
        bodies = []
        token = _reads.set(self.reads)
        try:
            for item in self.items:
                try:
                    payload = item.build()
                    if payload is not None:
                        bodies.append((item, _envelope_of(item, payload)))
                except Exception:  # noqa: BLE001 (a notification lost is logged)
                    log.warning("notification %s not built", item.event_type, exc_info=True)
        finally:
            _reads.reset(token)
        if bodies:
            _publish(bodies)


_reads: ContextVar[dict | None] = ContextVar("notification_reads", default=None)
_batches = threading.local()


def committed(key: Any, read: Callable[[], Any]) -> Any:
    """`read()`, once for every notification of the batch being built that asks for
    `key` (the row they describe, read after the commit)."""
    reads = _reads.get()
    if reads is None:
        return read()
    if key not in reads:
        reads[key] = read()
    return reads[key]


def _envelope_of(item: _Notification, payload: NotificationPayload) -> dict[str, Any]:
    return envelope(
        event_type=item.event_type() if callable(item.event_type) else item.event_type,
        payload=payload,
        publisher_id=item.publisher_id,
        priority=item.priority,
        request_id=item.request_id,
    )


def _publish(bodies: list[tuple[_Notification, dict[str, Any]]]) -> None:
    exchange, queues = _notification_queues()
    try:
        with app.producer_or_acquire() as producer:
            for item, body in bodies:
                producer.publish(
                    body,
                    exchange=exchange,
                    routing_key=routing_key(item.priority),
                    declare=[exchange, *queues],
                    serializer="json",
                    retry=True,
                    retry_policy={"max_retries": 2, "interval_start": 0.2},
                )
    except Exception:  # noqa: BLE001 (a notification lost is logged, the change stays)
        log.warning("%d notifications not published", len(bodies), exc_info=True)


def notify(
    event_type: str | Callable[[], str],
    build: Callable[[], NotificationPayload | None],
    *,
    publisher: str = "",
    priority: str = INFO,
) -> None:
    """Publish the notification `event_type` once the transaction commits; `build`
    makes its payload then (from the committed rows; None: nothing to say), and an
    event_type given as a function is named after it. The notifications of one
    transaction go out together, in order (_Batch). A broker that does not answer
    loses the notification, never the change (logged)."""
    if not settings.NOTIFICATIONS_ENABLED:
        return
    item = _Notification(
        event_type=event_type,
        build=build,
        publisher_id=(
            publisher or settings.NOTIFICATIONS_PUBLISHER or f"stratus:{socket.gethostname()}"
        ),
        priority=priority,
        request_id=request_ids.get(),
    )
    connection = transaction.get_connection()
    savepoints = tuple(connection.savepoint_ids)
    batch = getattr(_batches, "current", None)
    if (
        batch is None
        or batch.sent
        or batch.savepoints != savepoints
        or not any(callback is batch for _, callback, _ in connection.run_on_commit)
    ):
        # The first notification of this transaction (or of this savepoint, which may
        # roll back alone): its batch goes out when it commits, with what follows
        # (at once outside a transaction).
        batch = _batches.current = _Batch(savepoints)
        batch.items.append(item)
        transaction.on_commit(batch)
        return
    batch.items.append(item)


def cast_network(task_name: str, payload: Payload) -> None:
    """A decision for the network controller (queue `network`), after the commit."""
    message = for_service("network", task_name, payload)
    transaction.on_commit(lambda: app.send_task(task_name, args=[message], queue=NETWORK_QUEUE))


def cast_network_agent(host: str, task_name: str, payload: Payload) -> bool:
    """A message for the network agent of `host`, built in the host's version, sent after
    the commit. False (nothing sent) when the host is too old to read it: its ports stay
    DOWN until it is upgraded; the caller's transaction goes on."""
    version = host_payload_version(host=host)
    try:
        message = payload.to_dict(version)
    except PayloadTooNew:
        return False
    transaction.on_commit(
        lambda: app.send_task(
            task_name,
            args=[message],
            queue=network_agent_queue(host),
            expires=COMPUTE_MESSAGE_EXPIRES,
        )
    )
    return True


def cast_volume(backend: str, task_name: str, payload: Payload, *, version: str = "") -> None:
    """A task for the volume worker of `backend`, built in `version` (what its heartbeat
    announced; empty: ours), sent after the commit; it expires like a host's messages
    (the reaper ends what a silent backend never did)."""
    message = payload.to_dict(version) if version else payload.to_dict()
    transaction.on_commit(
        lambda: app.send_task(
            task_name,
            args=[message],
            queue=volume_queue(backend),
            expires=COMPUTE_MESSAGE_EXPIRES,
        )
    )
