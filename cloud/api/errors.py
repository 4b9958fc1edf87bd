"""OpenStack error bodies for every API error, and the exceptions views raise.

Compute and image errors look like Nova's: `{"itemNotFound": {"code": 404,
"message": "..."}}`; identity errors look like Keystone's: `{"error":
{"code": 401, "title": "Unauthorized", "message": "..."}}`; network errors look
like Neutron's: `{"NeutronError": {"type": "NetworkNotFound", "message": "...",
"detail": ""}}`, where the type is the code the view raised the error with (else
one from the status); placement errors look like Placement's: `{"errors":
[{"status": 409, "title": "Conflict", "detail": "...", "code":
"placement.concurrent_update", "request_id": "req-..."}]}`, where the code is the
one the view raised the error with (`Conflict(detail, code="placement....")`).
"""

import logging
from http import HTTPStatus

from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from cloud.api import unavailable

log = logging.getLogger(__name__)

NOVA_ERROR_KEYS = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    406: "notAcceptable",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    429: "overLimit",
    500: "computeFault",
    501: "notImplemented",
    503: "serviceUnavailable",
    504: "gatewayTimeout",
}

KEYSTONE_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
}

PLACEMENT_DEFAULT_CODE = "placement.undefined_code"


class BadRequest(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "badRequest"


class Unauthorized(exceptions.APIException):
    """401 even where no authenticator ran (DRF would turn AuthenticationFailed into 403)."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "unauthorized"


class Forbidden(exceptions.APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "forbidden"


class NotFound(exceptions.APIException):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "itemNotFound"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflictingRequest"


class OverLimit(exceptions.APIException):
    """413 where Glance and Cinder answer a quota that would be exceeded (Nova: 403)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "overLimit"


class NotAcceptable(exceptions.APIException):
    status_code = status.HTTP_406_NOT_ACCEPTABLE
    default_code = "notAcceptable"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "serviceUnavailable"


class GatewayTimeout(exceptions.APIException):
    status_code = status.HTTP_504_GATEWAY_TIMEOUT
    default_code = "gatewayTimeout"


NEUTRON_TYPES = {
    400: "BadRequest",
    401: "NotAuthorized",
    403: "PolicyNotAuthorized",
    404: "NotFound",
    405: "HTTPMethodNotAllowed",
    409: "Conflict",
    503: "ServiceUnavailable",
}


def _neutron_type(code: int, error_code: str) -> str:
    """The error's own code when it names a Neutron exception (e.g. "NetworkInUse")."""
    if error_code and error_code[0].isupper():
        return error_code
    return NEUTRON_TYPES.get(code, "NeutronError")


def _title(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def error_body(
    path: str,
    code: int,
    message: str,
    *,
    error_code: str = PLACEMENT_DEFAULT_CODE,
    request_id: str = "",
) -> dict:
    if path.startswith("/placement"):
        return {
            "errors": [
                {
                    "status": code,
                    "title": _title(code),
                    "detail": message,
                    "code": error_code,
                    "request_id": request_id,
                }
            ]
        }
    if path.startswith("/network"):
        return {
            "NeutronError": {
                "type": _neutron_type(code, error_code),
                "message": message,
                "detail": "",
            }
        }
    if path.startswith("/identity"):
        return {
            "error": {"code": code, "title": KEYSTONE_TITLES.get(code, "Error"), "message": message}
        }
    return {NOVA_ERROR_KEYS.get(code, "computeFault"): {"code": code, "message": message}}


def flatten_detail(detail) -> str:
    """One readable sentence from DRF's nested validation details."""
    if isinstance(detail, dict):
        parts = []
        for key, value in detail.items():
            text = flatten_detail(value)
            parts.append(text if key == "non_field_errors" else f"{key}: {text}")
        return "; ".join(parts)
    if isinstance(detail, list):
        return " ".join(flatten_detail(item) for item in detail)
    return str(detail)


def _placement_code(exc) -> str:
    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
    if isinstance(codes, str) and (codes.startswith("placement.") or codes[:1].isupper()):
        return codes
    return PLACEMENT_DEFAULT_CODE


def exception_handler(exc, context):
    # Imported here: rest_framework.views loads the parser classes at import
    # (cloud.api.bodies), and they build their errors with this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    request = context.get("request")
    path = request.path if request is not None else ""
    request_id = getattr(request, "request_id", "")
    if isinstance(exc, exceptions.ParseError):
        exc = BadRequest(f"Malformed request body: {exc.detail}")
    if isinstance(exc, Http404):
        exc = NotFound(str(exc) or "The resource could not be found.")
    dependency = unavailable.dependency_away(exc)
    if dependency is not None:
        # The database or the broker is away (a restart, a failover): retryable, not a bug.
        log.warning("%s unavailable handling %s: %s", dependency, path, exc)
        response = Response(unavailable.unavailable_body(path, dependency, request_id), status=503)
        response["Retry-After"] = str(unavailable.RETRY_AFTER_SECONDS)
        return response
    response = drf_exception_handler(exc, context)
    if response is None:
        log.exception("Unexpected error handling %s", path, exc_info=exc)
        return Response(
            error_body(
                path,
                500,
                "Unexpected API Error. Please report this "
                "at your cloud's support with the request id.",
                request_id=request_id,
            ),
            status=500,
        )
    detail = getattr(exc, "detail", None)
    if isinstance(exc, exceptions.NotAuthenticated):
        message = "The request you have made requires authentication."
    else:
        message = flatten_detail(detail) if detail is not None else str(exc)
    response.data = error_body(
        path,
        response.status_code,
        message,
        error_code=_placement_code(exc),
        request_id=request_id,
    )
    return response


def json_404(request, exception=None):
    return JsonResponse(
        error_body(
            request.path,
            404,
            "The resource could not be found.",
            request_id=getattr(request, "request_id", ""),
        ),
        status=404,
    )


def json_500(request):
    # Django calls this inside the `except` of what failed outside any view's handler.
    exc = unavailable.handled_exception()
    response = unavailable.unavailable_response(request, exc) if exc is not None else None
    if response is not None:
        return response
    return JsonResponse(
        error_body(
            request.path,
            500,
            "Unexpected API Error.",
            request_id=getattr(request, "request_id", ""),
        ),
        status=500,
    )
