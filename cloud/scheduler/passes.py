"""Requests waiting in one scheduler process, decided together in passes.

The scheduler worker runs its tasks in threads (`-P threads -c N`), so under
load up to N requests are in the process at once. Each task hands its
request here and waits; one decider thread takes every request waiting, up to
SCHEDULER_PASS_SIZE instances, and decides them in one pass
(cloud.scheduler.services.decide_pass: a candidate scan per shape of request, one
claim transaction). Requests whose host another scheduler process filled while
the pass planned go first into the next pass, planned again on its fresh reads
(no query of their own); after PASS_ATTEMPTS passes they are decided alone.
Under load (the last pass held several
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
from dataclasses import dataclass, field

from django.conf import settings
from django.db import close_old_connections, connection

from cloud.scheduler.request import SchedulingRequest
from cloud.scheduler.services import PASS_ATTEMPTS, Decided, Selection, decide_pass

log = logging.getLogger(__name__)

Decide = Callable[[list[SchedulingRequest], set[str]], Decided]


@dataclass
class _Task:
    """One task's requests, the selections found for them so far, and how many passes
    planned them."""

    requests: list[SchedulingRequest]
    future: Future
    found: dict[str, Selection] = field(default_factory=dict)
    passes: int = 0

    def open(self) -> list[SchedulingRequest]:
        return [r for r in self.requests if r.instance_uuid not in self.found]


class Passes:
    """A decider thread and the requests waiting for it (one per process)."""

    def __init__(
        self,
        decide: Decide = decide_pass,
        size: int | None = None,
        linger: float | None = None,
    ) -> None:
        self._decide = decide
        self._size = size
        self._linger = linger
        self._waiting: queue.SimpleQueue[_Task] = queue.SimpleQueue()
        self._again: list[_Task] = []  # tasks with requests that lost a race: next pass
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loaded = False  # whether the last pass held more than one request

    def decide(self, requests: list[SchedulingRequest]) -> list[Selection]:
        """Selections for these requests (in order), decided in the next pass."""
        future: Future = Future()
        self._waiting.put(_Task(requests, future))
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

    def _take(self) -> list[_Task]:
        """The tasks whose requests lost a race in the last pass, or else the first request
        waiting (blocking); then whatever else is, or arrives within the linger when
        under load, up to the limit."""
        work, self._again = self._again, []
        if not work:
            work = [self._waiting.get()]
        count = sum(len(task.open()) for task in work)
        linger = settings.SCHEDULER_PASS_LINGER if self._linger is None else self._linger
        deadline = time.monotonic() + (linger if self._loaded else 0.0)
        while count < self._limit():
            try:
                task = self._waiting.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            work.append(task)
            count += len(task.requests)
        self._loaded = len(work) > 1
        return work

    def _run(self) -> None:
        while True:
            self._pass(self._take())

    def _pass(self, work: list[_Task]) -> None:
        close_old_connections()
        requests = [request for task in work for request in task.open()]
        final = {
            request.instance_uuid
            for task in work
            if task.passes + 1 >= PASS_ATTEMPTS
            for request in task.open()
        }
        try:
            decided = self._decide(requests, final)
        except Exception as exc:  # every waiting task gets it, and retries by its policy
            log.warning("a pass of %d requests failed: %r", len(requests), exc)
            connection.close()
            for task in work:
                task.future.set_exception(exc)
            return
        if len(work) > 1:
            log.info("decided %d requests of %d tasks in one pass", len(requests), len(work))
        for task in work:
            task.passes += 1
            for request in task.open():
                if request.instance_uuid in decided.selections:
                    task.found[request.instance_uuid] = decided.selections[request.instance_uuid]
            if task.open():
                self._again.append(task)
            else:
                task.future.set_result([task.found[r.instance_uuid] for r in task.requests])


passes = Passes()
