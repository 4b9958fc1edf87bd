"""cloud.api.errors: OpenStack error bodies and the flattening of validation details."""

import pytest
from django.db import OperationalError
from django.test import RequestFactory
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from cloud.api.errors import error_body, exception_handler, flatten_detail


@pytest.mark.parametrize(
    ("code", "key"),
    [
        (400, "badRequest"),
        (401, "unauthorized"),
        (403, "forbidden"),
        (404, "itemNotFound"),
        (405, "badMethod"),
        (406, "notAcceptable"),
        (409, "conflictingRequest"),
        (413, "overLimit"),
        (415, "badMediaType"),
        (429, "overLimit"),
        (500, "computeFault"),
        (501, "notImplemented"),
        (503, "serviceUnavailable"),
        (504, "gatewayTimeout"),
    ],
)
def test_compute_error_body(code, key):
    assert error_body("/compute/v2.1/servers", code, "it went wrong") == {
        key: {"code": code, "message": "it went wrong"}
    }


def test_compute_error_body_of_an_unlisted_code_is_a_compute_fault():
    assert error_body("/compute/v2.1/servers", 418, "teapot") == {
        "computeFault": {"code": 418, "message": "teapot"}
    }


def test_image_paths_use_the_nova_shape():
    assert error_body("/image/v2/images/x", 404, "nope") == {
        "itemNotFound": {"code": 404, "message": "nope"}
    }


@pytest.mark.parametrize(
    ("code", "title"),
    [
        (400, "Bad Request"),
        (401, "Unauthorized"),
        (403, "Forbidden"),
        (404, "Not Found"),
        (409, "Conflict"),
        (500, "Internal Server Error"),
    ],
)
def test_identity_error_body(code, title):
    assert error_body("/identity/v3/auth/tokens", code, "who are you") == {
        "error": {"code": code, "title": title, "message": "who are you"}
    }


def test_identity_error_body_of_an_unlisted_code():
    assert error_body("/identity/v3", 418, "teapot") == {
        "error": {"code": 418, "title": "Error", "message": "teapot"}
    }


def test_flatten_plain_values():
    assert flatten_detail("just text") == "just text"
    assert flatten_detail(ErrorDetail("This field is required.", code="required")) == (
        "This field is required."
    )
    assert flatten_detail(["a.", "b."]) == "a. b."


def test_flatten_nested_drf_details():
    detail = {
        "name": [ErrorDetail("This field is required.", code="required")],
        "non_field_errors": [ErrorDetail("min_count must be <= max_count", code="invalid")],
        "metadata": {"color": [ErrorDetail("Ensure this field has no more than 255 characters.")]},
        "block_device_mapping_v2": [{"boot_index": ["A valid integer is required."]}],
    }

    assert flatten_detail(detail) == (
        "name: This field is required.; "
        "min_count must be <= max_count; "
        "metadata: color: Ensure this field has no more than 255 characters.; "
        "block_device_mapping_v2: boot_index: A valid integer is required."
    )


class _Sample(serializers.Serializer):
    name = serializers.CharField(max_length=3)
    count = serializers.IntegerField(min_value=1)
    tags = serializers.ListField(child=serializers.IntegerField())


def test_flatten_real_serializer_errors():
    serializer = _Sample(data={"name": "long", "count": 0, "tags": [1, "x"]})
    assert not serializer.is_valid()

    text = flatten_detail(serializer.errors)

    assert isinstance(text, str)
    assert "\n" not in text
    assert "name: Ensure this field has no more than 3 characters." in text
    assert "count: Ensure this value is greater than or equal to 1." in text
    assert "tags: " in text and "A valid integer is required." in text
    assert "ErrorDetail" not in text
    assert "[" not in text and "{" not in text


def test_busy_database_is_a_retryable_503_not_a_500():
    request = RequestFactory().delete("/compute/v2.1/servers/x")
    response = exception_handler(OperationalError("database is locked"), {"request": request})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.data == {
        "serviceUnavailable": {"code": 503, "message": "The service is busy; please retry shortly."}
    }
