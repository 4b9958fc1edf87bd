"""Request counts and latency per route, for every response of every API (/metrics).

The middleware is the outermost one (settings.MIDDLEWARE), so what the others answer
themselves is counted too: the body guard's 413s and 400s, WhiteNoise's static files.
"""

import time

from django.conf import settings
from django.urls import Resolver404, resolve

from cloud.observability.metrics import REQUEST_SECONDS, REQUESTS


def route_of(request) -> str:
    """The URL pattern of the request (`compute/v2.1/servers/<str:server_id>`), never the
    raw path: the one that served it, else the one its path resolves to (a request
    refused before any view ran); "static" for a static file, "unmatched" for a path no
    pattern takes."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        if request.path_info.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return "static"
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return "unmatched"
    return match.route or match.view_name or "unmatched"


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        route = route_of(request)
        REQUEST_SECONDS.labels(method=request.method, route=route).observe(
            time.perf_counter() - started
        )
        REQUESTS.labels(method=request.method, route=route, status=str(response.status_code)).inc()
        return response
