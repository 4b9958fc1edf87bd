"""gunicorn settings for the api (`--config python:cloud.operators.gunicorn`): with
PROMETHEUS_MULTIPROC_DIR set, a worker that exits has its live gauges dropped from
/metrics (prometheus-client's multiprocess mode), its counters kept; idle client
connections are kept for a while."""

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
