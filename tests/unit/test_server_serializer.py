"""ServerCreateSerializer: the body of POST /servers, validated without a database."""

import base64

import pytest
from django.conf import settings as django_settings

from cloud.api.errors import flatten_detail
from cloud.instances.api.serializers import NON_FIELD, ServerCreateSerializer

MINIMAL = {"name": "web-1", "imageRef": "0b6b4a53-5c0e-4c3c-9d83-3c2a8e0f7a11", "flavorRef": "1"}


def _check(**changes):
    body = {**MINIMAL, **changes}
    serializer = ServerCreateSerializer(data=body)
    serializer.is_valid()
    return serializer


def _valid(**changes) -> dict:
    serializer = _check(**changes)
    assert serializer.errors == {}
    return serializer.validated_data


def _errors(**changes) -> dict:
    serializer = _check(**changes)
    assert serializer.errors, f"{changes!r} was accepted"
    return serializer.errors


def test_minimal_body():
    data = _valid()

    assert data["name"] == "web-1"
    assert data["imageRef"] == MINIMAL["imageRef"]
    assert data["flavorRef"] == "1"
    assert (data["min_count"], data["max_count"]) == (1, 1)
    assert data["metadata"] == {}
    assert data["config_drive"] is False
    assert "networks" not in data


def test_name_and_flavor_are_required():
    serializer = ServerCreateSerializer(data={"imageRef": "x"})
    assert not serializer.is_valid()
    assert set(serializer.errors) == {"name", "flavorRef"}


@pytest.mark.parametrize(
    "name",
    [
        "",
        "x" * 256,
        " web",
        "web ",
        " ",
        "web\x00",
        "we\nb",
        "we\tb",
        "web\x1f",
        "web\x7f",
        None,
        42,
        ["web"],
    ],
    ids=repr,
)
def test_bad_names(name):
    assert "name" in _errors(name=name)


def test_missing_name():
    body = {k: v for k, v in MINIMAL.items() if k != "name"}
    serializer = ServerCreateSerializer(data=body)
    assert not serializer.is_valid()
    assert "name" in serializer.errors


@pytest.mark.parametrize("name", ["x" * 255, "a", "web server 1", "café-☕", "<evil>&\"'"])
def test_good_names(name):
    assert _valid(name=name)["name"] == name


@pytest.mark.parametrize(
    "name", ["web\ufffe1", "zero\u200bwidth", "\u00a0leading-nbsp", "line\u2028break"]
)
def test_non_printable_names_are_invalid(name):
    # Nova accepts printable characters only; libvirt would refuse U+FFFE in the XML.
    assert "name" in _errors(name=name)


def test_min_count_zero_is_invalid():
    assert "min_count" in _errors(min_count=0)


def test_max_count_zero_is_invalid():
    assert "max_count" in _errors(max_count=0)


def test_min_above_max_is_invalid():
    errors = _errors(min_count=3, max_count=2)
    assert errors[NON_FIELD] == ["min_count must be <= max_count"]


def test_counts_in_range():
    data = _valid(min_count=2, max_count=5)
    assert (data["min_count"], data["max_count"]) == (2, 5)
    data = _valid(min_count=3)
    assert (data["min_count"], data["max_count"]) == (3, 3)


def test_max_count_above_the_per_request_limit_is_invalid():
    limit = django_settings.MAX_INSTANCES_PER_REQUEST
    assert _valid(max_count=limit)["max_count"] == limit
    errors = _errors(max_count=limit + 1)
    assert errors[NON_FIELD] == [f"max_count may be at most {limit} per request"]


def test_per_request_limit_comes_from_settings(settings):
    settings.MAX_INSTANCES_PER_REQUEST = 3
    assert _valid(min_count=3)["max_count"] == 3
    assert NON_FIELD in _errors(min_count=4)
    assert NON_FIELD in _errors(min_count=1, max_count=4)


def test_unknown_key_is_named():
    errors = _errors(flavour="1")
    assert errors[NON_FIELD] == ["Additional properties are not allowed ('flavour' was unexpected)"]


def test_several_unknown_keys_are_all_named():
    errors = _errors(zeta=1, alpha=2)
    message = flatten_detail(errors)
    assert "'alpha', 'zeta'" in message
    assert "were unexpected" in message


@pytest.mark.parametrize("body", [None, [], "server", 3])
def test_non_object_body_is_invalid(body):
    serializer = ServerCreateSerializer(data=body)
    assert not serializer.is_valid()
    assert NON_FIELD in serializer.errors


def test_metadata_limits():
    ok = {f"k{i}": "v" for i in range(128)}
    assert _valid(metadata=ok)["metadata"] == ok
    assert _valid(metadata={"k": "v" * 255})["metadata"] == {"k": "v" * 255}

    assert "metadata" in _errors(metadata={f"k{i}": "v" for i in range(129)})
    assert "metadata" in _errors(metadata={"k": "v" * 256})
    assert "metadata" in _errors(metadata={"": "v"})
    assert "metadata" in _errors(metadata={"k" * 256: "v"})
    assert "metadata" in _errors(metadata=["k", "v"])


@pytest.mark.parametrize(
    "networks",
    ["none", "auto", [], [{"uuid": "0b6b4a53-5c0e-4c3c-9d83-3c2a8e0f7a11"}], [{"port": "p1"}]],
    ids=repr,
)
def test_good_networks(networks):
    assert _valid(networks=networks)["networks"] == networks


@pytest.mark.parametrize("networks", ["bogus", "NONE", {"uuid": "x"}, ["net-1"], 5], ids=repr)
def test_bad_networks(networks):
    assert "networks" in _errors(networks=networks)


def test_user_data_must_be_base64():
    encoded = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()
    assert _valid(user_data=encoded)["user_data"] == encoded

    assert "user_data" in _errors(user_data="#!/bin/sh echo hi")
    assert "user_data" in _errors(user_data="abc")  # bad padding
    assert "user_data" in _errors(user_data="a" * 65536)


@pytest.mark.parametrize(("ref", "expected"), [(1, "1"), (42, "42"), ("m1.small", "m1.small")])
def test_flavor_ref_int_becomes_a_string(ref, expected):
    assert _valid(flavorRef=ref)["flavorRef"] == expected


@pytest.mark.parametrize("ref", [True, None, 1.5, {"id": 1}, "x" * 256], ids=repr)
def test_bad_flavor_refs(ref):
    assert "flavorRef" in _errors(flavorRef=ref)


def test_access_ips_are_checked():
    data = _valid(accessIPv4="192.0.2.10", accessIPv6="2001:db8::1")
    assert (data["accessIPv4"], data["accessIPv6"]) == ("192.0.2.10", "2001:db8::1")
    assert "accessIPv4" in _errors(accessIPv4="2001:db8::1")
    assert "accessIPv6" in _errors(accessIPv6="192.0.2.300")
