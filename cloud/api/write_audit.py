"""Rows a refused request left behind: every API request answered with a 4xx should
have written nothing ("never a half-written row"). This middleware watches the
INSERTs a request's database connection commits and, when the answer is a 4xx,
logs the tables (an ERROR line, `client error left rows`, with the method, the route
and the request id) and counts them in `stratus_api_client_error_writes`. The schema
fuzzer (deploy/fuzz.py) fails on either.

An INSERT inside a transaction counts once that transaction commits (on_commit,
which Django drops when the block, or its savepoint, rolls back); one outside any
transaction has committed already. Only this process's own connection is watched:
a task the request queued writes elsewhere, and is the queueing view's to hold back
(on_commit) until its transaction commits.
"""

import functools
import logging
import re

from django.db import connection, transaction

from cloud.observability.metrics import CLIENT_ERROR_WRITES

log = logging.getLogger(__name__)
_INSERT = re.compile(r'\s*INSERT\s+INTO\s+"?([A-Za-z0-9_]+)', re.IGNORECASE)


class ClientErrorWritesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        written: list[str] = []

        def watch(execute, sql, params, many, context):
            result = execute(sql, params, many, context)
            match = _INSERT.match(sql) if isinstance(sql, str) else None
            if match is not None:
                table = match.group(1)
                if connection.in_atomic_block:
                    committed = functools.partial(written.append, table)
                    committed.audit = table  # tests tell the casts from the audit
                    transaction.on_commit(committed)
                else:
                    written.append(table)
            return result

        with connection.execute_wrapper(watch):
            response = self.get_response(request)
        if 400 <= response.status_code < 500 and written:
            match = getattr(request, "resolver_match", None)
            route = (match.route if match is not None else "") or "unmatched"
            CLIENT_ERROR_WRITES.labels(method=request.method, route=route).inc()
            log.error(
                "client error left rows: %s %s answered %s after inserting into %s (request %s)",
                request.method,
                route,
                response.status_code,
                ", ".join(sorted(set(written))),
                getattr(request, "request_id", ""),
            )
        return response
