"""Queue depths per Celery queue, read on the broker itself.

Redis (the default broker): every queue Kombu declared is named in the exchange
bindings it keeps (`_kombu.binding.<exchange>`), so the per-host queues
(`compute.<host>`) and any queue a new service declares are found without a list
here; the depth is the list's length (LLEN, plus the priority sub-lists Kombu keeps
beside it). Other brokers (RabbitMQ): the queues named here and one per known
host, each declared passively (its message count; a queue not declared yet is left
out).
"""

import logging

from kombu.transport.redis import Channel

from cloud.celery import app
from cloud.messaging import CONDUCTOR_QUEUE, HEARTBEAT_QUEUE, SCHEDULER_QUEUE, compute_queue

log = logging.getLogger(__name__)

BINDING_PREFIX = "_kombu.binding."
# Celery's own broadcast and event exchanges (remote control, monitoring): their
# queues are per-worker mailboxes, not work queues.
CELERY_EXCHANGES = ("celery.pidbox", "reply.celery.pidbox", "celeryev")
KNOWN_QUEUES = (CONDUCTOR_QUEUE, HEARTBEAT_QUEUE, SCHEDULER_QUEUE)


def _redis_depths(channel: Channel) -> dict[str, int]:
    client = channel.client
    queues: set[str] = set()
    for key in client.scan_iter(match=f"{BINDING_PREFIX}*", count=500):
        exchange = (key.decode() if isinstance(key, bytes) else key)[len(BINDING_PREFIX) :]
        if exchange in CELERY_EXCHANGES:
            continue
        for member in client.smembers(key):
            text = member.decode() if isinstance(member, bytes) else member
            queues.add(text.split(channel.sep)[-1])
    depths: dict[str, int] = {}
    for queue in sorted(q for q in queues if q):
        depths[queue] = sum(
            client.llen(channel._q_for_pri(queue, priority)) for priority in channel.priority_steps
        )
    return depths


def _declared_depths(channel, hosts: list[str]) -> dict[str, int]:
    depths: dict[str, int] = {}
    for queue in [*KNOWN_QUEUES, *(compute_queue(h) for h in hosts)]:
        try:
            depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
        except Exception:  # noqa: BLE001 (a queue not declared yet has no depth)
            log.debug("queue %s not declared on the broker", queue)
    return depths


def queue_depths(*, hosts: list[str]) -> dict[str, int]:
    """Messages waiting per queue; {} when the broker does not answer (logged)."""
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            channel = conn.default_channel
            if isinstance(channel, Channel):
                return _redis_depths(channel)
            return _declared_depths(channel, hosts)
    except Exception:  # noqa: BLE001 (the dashboard and /metrics still answer)
        log.warning("queue depths: the broker did not answer", exc_info=True)
        return {}
