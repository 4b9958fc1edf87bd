"""gunicorn settings for the api (`--config python:cloud.operators.gunicorn`): with
PROMETHEUS_MULTIPROC_DIR set, a worker that exits has its live gauges dropped from
/metrics (prometheus-client's multiprocess mode), its counters kept; idle client
connections are kept for a while; each worker's loaded heap is frozen out of the garbage
collector (a page of 1,000 servers: 167 to 146 ms in-process)."""

import gc
import os

from prometheus_client import multiprocess

# The clients (keystoneauth's and requests' sessions) reuse an idle connection for their
# next request. With gunicorn's 2 s a connection is often closed just as a client sends
# on it, and a POST sent so fails ("Remote end closed connection without response"; a
# client does not resend a POST). 75 s, as nginx's default; the threaded worker keeps
# idle connections in its poller, not on a thread.
keepalive = 75


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker) -> None:
    """The app is loaded: its objects leave the collector's generations (gc.freeze), so a
    full collection, which a page of a thousand rows sets off, does not walk them."""
    gc.freeze()
