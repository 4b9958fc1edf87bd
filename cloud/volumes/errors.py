"""The block-storage API's own error statuses: Cinder answers 413 (overLimit) when a
quota would be exceeded, where Nova answers 403."""

from rest_framework import exceptions, status


class OverQuota(exceptions.APIException):
    """413: the project's volumes, gigabytes or snapshots quota would be exceeded."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "overLimit"
