"""gunicorn settings for the api (`--config python:cloud.operators.gunicorn`): with
PROMETHEUS_MULTIPROC_DIR set, a worker that exits has its live gauges dropped from
/metrics (prometheus-client's multiprocess mode), its counters kept."""

import os

from prometheus_client import multiprocess


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
