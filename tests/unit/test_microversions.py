"""cloud.api.microversions: header parsing, negotiation, response headers."""

import pytest
from django.http.request import HttpHeaders

from cloud.api.microversions import (
    MAX,
    MAX_VERSION,
    MIN,
    APIVersion,
    InvalidVersion,
    UnsupportedVersion,
    negotiate,
    response_headers,
)

NEW = "OpenStack-API-Version"
LEGACY = "X-OpenStack-Nova-API-Version"


def v(text: str) -> APIVersion:
    return APIVersion.parse(text)


def test_range_constants():
    assert (MIN.major, MIN.minor) == (2, 1)
    assert (MAX.major, MAX.minor) == (2, 96)
    assert str(MAX) == MAX_VERSION


def test_no_header_is_the_minimum():
    assert negotiate({}) == APIVersion(2, 1)


def test_empty_headers_are_ignored():
    assert negotiate({NEW: "", LEGACY: ""}) == APIVersion(2, 1)


def test_new_header():
    assert negotiate({NEW: "compute 2.47"}) == APIVersion(2, 47)


def test_new_header_service_name_is_case_insensitive():
    assert negotiate({NEW: "Compute 2.47"}) == APIVersion(2, 47)


def test_legacy_header_only():
    assert negotiate({LEGACY: "2.38"}) == APIVersion(2, 38)


def test_new_header_wins_over_legacy():
    assert negotiate({NEW: "compute 2.60", LEGACY: "2.10"}) == APIVersion(2, 60)


@pytest.mark.parametrize(
    "headers",
    [{NEW: "compute latest"}, {NEW: "compute LATEST"}, {LEGACY: "latest"}],
)
def test_latest_is_the_maximum(headers):
    assert negotiate(headers) == MAX


def test_other_service_is_ignored():
    assert negotiate({NEW: "volume 3.0"}) == APIVersion(2, 1)


def test_other_service_in_new_header_falls_back_to_legacy():
    assert negotiate({NEW: "volume 3.0", LEGACY: "2.5"}) == APIVersion(2, 5)


def test_several_services_in_one_header():
    assert negotiate({NEW: "volume 3.0, compute 2.60"}) == APIVersion(2, 60)
    assert negotiate({NEW: "compute 2.3,placement 1.30"}) == APIVersion(2, 3)


def test_bounds_are_inclusive():
    assert negotiate({NEW: "compute 2.1"}) == MIN
    assert negotiate({NEW: "compute 2.96"}) == MAX


@pytest.mark.parametrize("text", ["2.97", "2.0", "1.5", "3.0", "2.100"])
def test_out_of_range_is_unsupported(text):
    with pytest.raises(UnsupportedVersion, match="Minimum is 2.1 and maximum is 2.96"):
        negotiate({NEW: f"compute {text}"})
    with pytest.raises(UnsupportedVersion):
        negotiate({LEGACY: text})


@pytest.mark.parametrize("text", ["abc", "2.", "2.01x", "2.01", ".5", "2", "2.1.1", "02.1", "-2.1"])
def test_garbage_is_invalid(text):
    with pytest.raises(InvalidVersion, match="Invalid API version"):
        negotiate({NEW: f"compute {text}"})
    with pytest.raises(InvalidVersion):
        negotiate({LEGACY: text})


def test_invalid_and_unsupported_are_distinct():
    # The view maps one to 400 and the other to 406.
    assert not issubclass(InvalidVersion, UnsupportedVersion)
    assert not issubclass(UnsupportedVersion, InvalidVersion)


def test_works_with_django_request_headers():
    headers = HttpHeaders(
        {
            "HTTP_OPENSTACK_API_VERSION": "compute 2.53",
            "HTTP_X_OPENSTACK_NOVA_API_VERSION": "2.2",
        }
    )
    assert negotiate(headers) == APIVersion(2, 53)
    assert negotiate(HttpHeaders({"HTTP_X_OPENSTACK_NOVA_API_VERSION": "2.9"})) == APIVersion(2, 9)


def test_response_headers():
    assert response_headers(APIVersion(2, 47)) == {
        "OpenStack-API-Version": "compute 2.47",
        "X-OpenStack-Nova-API-Version": "2.47",
        "Vary": "OpenStack-API-Version, X-OpenStack-Nova-API-Version",
    }


def test_ordering_is_numeric_not_lexical():
    assert v("2.10") > v("2.9")
    assert v("2.9") < v("2.10")
    assert v("3.0") > v("2.96")
    assert v("2.10") >= v("2.10")
    assert v("2.10") == APIVersion(2, 10)
    assert v("2.10") != v("2.1")
    assert sorted([v("2.10"), v("2.2"), v("2.1"), v("2.9")]) == [
        v("2.1"),
        v("2.2"),
        v("2.9"),
        v("2.10"),
    ]


def test_at_least():
    assert v("2.47").at_least("2.9")
    assert v("2.47").at_least("2.47")
    assert not v("2.47").at_least("2.48")


def test_parse_and_str():
    assert v(" 2.60 ") == APIVersion(2, 60)
    assert str(v("2.60")) == "2.60"
    assert str(APIVersion(2, 5)) == "2.5"
