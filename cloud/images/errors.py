"""The image API's own error statuses (Glance answers 413, 415 and 416 where Nova has none)."""

from rest_framework import exceptions, status


class RequestEntityTooLarge(exceptions.APIException):
    """413: a quota (image count, total size, members) would be exceeded."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "overLimit"


class UnsupportedMediaType(exceptions.APIException):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_code = "unsupportedMediaType"


class RangeNotSatisfiable(exceptions.APIException):
    status_code = status.HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE
    default_code = "rangeNotSatisfiable"
