"""503 with Retry-After when a dependency of the API is away, in every API's error shape.

The database (a restart, a failover, a deadlock victim), the message broker (a
publish that found no Redis or RabbitMQ after kombu's retries) and the Redis cache
(login failure counters) are outside the API process: a request that could not
reach one is retryable, not a bug, so it answers 503 with `Retry-After` instead of
500. One place decides which exceptions mean that (`dependency_away`), and every
path a request can fail on asks it: the DRF exception handler (cloud.api.errors),
the middleware below for plain Django views, and the 500 handler for what fails
outside a view.
"""

import logging
import sys

import kombu.exceptions
import redis.exceptions
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse

log = logging.getLogger(__name__)

# Seconds a client is told to wait: about how long a database or broker restart takes.
RETRY_AFTER_SECONDS = 5

MESSAGES = {
    "database": "The service is busy; please retry shortly.",
    "broker": "The message queue is unavailable; please retry shortly.",
    "cache": "The service is busy; please retry shortly.",
}


def dependency_away(exc: BaseException) -> str | None:
    """Which dependency `exc` says is away ("database", "broker", "cache"), else None."""
    if isinstance(exc, OperationalError | InterfaceError):
        return "database"
    # kombu's OperationalError: a publish or a connection that found no broker.
    if isinstance(exc, kombu.exceptions.OperationalError):
        return "broker"
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return "cache"
    return None


def unavailable_body(path: str, dependency: str, request_id: str) -> dict:
    from cloud.api.errors import error_body  # errors imports this module

    return error_body(path, 503, MESSAGES[dependency], request_id=request_id)


def unavailable_response(request: HttpRequest, exc: BaseException) -> JsonResponse | None:
    """The 503 for `exc` when it says a dependency is away, else None."""
    dependency = dependency_away(exc)
    if dependency is None:
        return None
    log.warning("%s unavailable handling %s: %s", dependency, request.path, exc)
    response = JsonResponse(
        unavailable_body(request.path, dependency, getattr(request, "request_id", "")),
        status=503,
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def handled_exception() -> BaseException | None:
    """The exception being handled, for the 500 handler (Django calls it inside its
    `except` block)."""
    return sys.exc_info()[1]


class DependencyUnavailableMiddleware:
    """Plain Django views (the admin, the dashboard, the metadata service) that fail
    because the database or the broker is away answer 503, not 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return unavailable_response(request, exception)
