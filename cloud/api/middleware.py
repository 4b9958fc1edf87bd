"""Request ids and CSRF handling shared by every API."""

import uuid

from django.utils.deprecation import MiddlewareMixin


class RequestIdMiddleware:
    """Give each request an OpenStack-style id, echo it, and log it with actions."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = f"req-{uuid.uuid4()}"
        response = self.get_response(request)
        response["X-OpenStack-Request-ID"] = request.request_id
        if request.path.startswith("/compute"):
            response["X-Compute-Request-Id"] = request.request_id
        return response


class CsrfExemptTokenRequestsMiddleware(MiddlewareMixin):
    """Token-authenticated clients carry no cookies, so CSRF does not apply to them.

    Browser sessions (the browsable API) still get Django's CSRF check.
    """

    def process_request(self, request):
        if "HTTP_X_AUTH_TOKEN" in request.META or "HTTP_COOKIE" not in request.META:
            request._dont_enforce_csrf_checks = True
