"""Every task delivered twice: loaded into the suite's workers (`celery worker -I
tests.chaos.duplicates`), it puts each message a worker receives back on the broker
once more, byte for byte (same task id, same body, same chain), as a redelivery after
a lost ack or an expired visibility timeout would. The copy may reach another worker
of the queue at the same time, or this one right after. No Django here: the compute
workers load it too.
"""

import logging
from typing import Any

from celery import signals

log = logging.getLogger(__name__)

COPY_HEADER = "chaos_duplicate"


@signals.task_received.connect
def deliver_again(sender: Any = None, request: Any = None, **_: Any) -> None:
    message = request.message
    if message.headers.get(COPY_HEADER):
        return
    info = message.delivery_info
    properties = message.properties
    try:
        with sender.app.producer_or_acquire() as producer:
            producer.publish(
                message.body,
                exchange=info.get("exchange") or "",
                routing_key=info["routing_key"],
                headers={**message.headers, COPY_HEADER: True},
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                correlation_id=properties.get("correlation_id"),
                reply_to=properties.get("reply_to"),
                retry=True,
            )
    except Exception:  # noqa: BLE001 - the broker away: this one is delivered once
        log.warning("chaos: %s[%s] not delivered twice", request.name, request.id, exc_info=True)
        return
    log.info("chaos: %s[%s] delivered twice", request.name, request.id)
