"""Requests waiting in one scheduler process, decided together in passes.

The scheduler worker runs its tasks in threads (`-P threads -c N`), so under
load up to N requests are in the process at once. Each task hands its
request here and waits; one decider thread takes every request waiting, up to
SCHEDULER_PASS_SIZE instances, and decides them in one pass
(cloud.scheduler.services.select_destinations: a candidate scan per shape of
request, one claim transaction). Under load (the last pass held several
requests), the decider lingers SCHEDULER_PASS_LINGER seconds (2 ms) after the
first request for others to arrive, as a database's group commit does; a
request that finds the decider idle after a lone one is decided at once.

Each task still receives its own answer, or the pass's exception (so its
retry policy applies), and acknowledges its own message afterwards.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

from django.conf import settings
from django.db import close_old_connections, connection

from cloud.scheduler.request import SchedulingRequest
from cloud.scheduler.services import Selection, select_destinations

log = logging.getLogger(__name__)

Decide = Callable[[list[SchedulingRequest]], list[Selection]]
_Work = tuple[list[SchedulingRequest], Future]


class Passes:
    """A decider thread and the requests waiting for it (one per process)."""

    def __init__(
        self,
        decide: Decide = select_destinations,
        size: int | None = None,
        linger: float | None = None,
    ) -> None:
        self._decide = decide
        self._size = size
        self._linger = linger
        self._waiting: queue.SimpleQueue[_Work] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loaded = False  # whether the last pass held more than one request

    def decide(self, requests: list[SchedulingRequest]) -> list[Selection]:
        """Selections for these requests (in order), decided in the next pass."""
        future: Future = Future()
        self._waiting.put((requests, future))
        self._start()
        return future.result()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="scheduler-passes", daemon=True
                )
                self._thread.start()

    def _limit(self) -> int:
        return self._size or settings.SCHEDULER_PASS_SIZE

    def _take(self) -> list[_Work]:
        """The first request waiting (blocking), then whatever else is, or arrives within
        the linger when under load, up to the limit."""
        work = [self._waiting.get()]
        count = len(work[0][0])
        linger = settings.SCHEDULER_PASS_LINGER if self._linger is None else self._linger
        deadline = time.monotonic() + (linger if self._loaded else 0.0)
        while count < self._limit():
            try:
                item = self._waiting.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            work.append(item)
            count += len(item[0])
        self._loaded = len(work) > 1
        return work

    def _run(self) -> None:
        while True:
            self._pass(self._take())

    def _pass(self, work: list[_Work]) -> None:
        close_old_connections()
        requests = [request for requests, _ in work for request in requests]
        try:
            selections = self._decide(requests)
        except Exception as exc:  # every waiting task gets it, and retries by its policy
            log.warning("a pass of %d requests failed: %r", len(requests), exc)
            connection.close()
            for _, future in work:
                future.set_exception(exc)
            return
        if len(work) > 1:
            log.info("decided %d requests of %d tasks in one pass", len(requests), len(work))
        start = 0
        for requests_of_task, future in work:
            future.set_result(selections[start : start + len(requests_of_task)])
            start += len(requests_of_task)


passes = Passes()
