"""The image API's own error statuses (Glance answers 415 and 416 where Nova has none;
its 413 over a quota is cloud.api.errors.OverLimit)."""

from rest_framework import exceptions, status


class UnsupportedMediaType(exceptions.APIException):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_code = "unsupportedMediaType"


class RangeNotSatisfiable(exceptions.APIException):
    status_code = status.HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE
    default_code = "rangeNotSatisfiable"
