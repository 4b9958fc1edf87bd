"""Request ids and CSRF handling shared by every API."""

from django.utils.deprecation import MiddlewareMixin

from cloud.observability import request_id


class RequestIdMiddleware:
    """Give each request an OpenStack-style id, echo it, and log it with actions.

    A client's own `X-OpenStack-Request-ID` of the right shape (`req-<uuid>`) is
    kept, as Nova keeps a global request id, so one id follows a call through
    several services; anything else gets a fresh id. While the request runs the id
    is bound for its log lines and for every task it sends (cloud.observability).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = (
            request_id.accepted(request.headers.get("X-OpenStack-Request-ID"))
            or request_id.generate()
        )
        token = request_id.bind(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id.unbind(token)
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
