"""Flower, as `celery flower` runs it, that keeps asking the workers what they consume.

    python -m cloud.operators.flower [Flower's options: --address=... --port=...]

Flower's Broker page lists the queues the workers it has inspected consume, and
`celery flower` inspects them once, at its start: a compute host (queue
`compute.<host>`) or a host's network agent (`network.<host>`) that starts later is
never listed. This runs the same Flower and asks every worker again each
FLOWER_INSPECT_INTERVAL seconds (10) which queues it consumes, so a host that joins
appears within that time. That round is one broadcast (Flower's own all-workers
inspection is four: stats, queues, registered tasks, configuration): with a worker per
host each broadcast is one message for every worker to read and answer (an idle host's
worker beside this Flower went from 3.0 to 2.1 ms of CPU a second with one). A worker's
page still asks that worker for the rest when it is opened (Flower's own worker view).
Flower forgets no worker it has seen: a host that goes down stays listed, its queue
depth growing, which is what an operator looks for.
"""

import asyncio
import atexit
import contextlib
import logging.config
import signal
import sys

from flower import command
from flower.app import Flower
from flower.inspector import Inspector
from tornado.ioloop import PeriodicCallback
from tornado.options import options


class QueuesInspector(Inspector):
    """Flower's inspector, which can also ask every worker only what it consumes."""

    def inspect_queues(self) -> asyncio.Future:
        # Flower 2.2's one-method inspection (pinned in requirements.txt): its replies
        # land in `workers`, where the Broker page reads the queues.
        return asyncio.ensure_future(self._inspect_method("active_queues", None))


class InspectingFlower(Flower):
    """Flower with its workers' queues asked for every `interval` seconds, not only at
    its start."""

    def __init__(self, *, interval: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.interval = interval
        self.inspector = QueuesInspector(
            self.io_loop, self.capp, self.options.inspect_timeout / 1000.0
        )

    def start(self) -> None:
        PeriodicCallback(self.inspector.inspect_queues, self.interval * 1000).start()
        super().start()


def main(argv: list[str]) -> int:
    from django.conf import settings

    from cloud.celery import app

    logging.config.dictConfig(settings.LOGGING)
    # Flower's own option handling: FLOWER_* variables, --conf, the command line.
    command.apply_env_options()
    command.apply_options(sys.argv[0], argv)
    command.extract_settings()
    command.setup_logging()
    flower = InspectingFlower(
        interval=settings.FLOWER_INSPECT_INTERVAL,
        capp=app,
        options=options,
        **command.settings,
    )
    atexit.register(flower.stop)
    signal.signal(signal.SIGTERM, command.sigterm_handler)
    port = flower.start_http_server()
    command.print_banner(app, "ssl_options" in command.settings, port)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        flower.start()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
