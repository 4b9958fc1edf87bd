"""cloud.images.transfer: signed, image-scoped, expiring transfer tokens."""

import time

import pytest
from django.test import override_settings

from cloud.images.transfer import image_transfer_allows, image_transfer_token, image_transfer_url

IMAGE = "6f1c3a9e-0000-4000-8000-000000000001"
OTHER = "6f1c3a9e-0000-4000-8000-000000000002"


def test_token_allows_exactly_its_image_and_action():
    token = image_transfer_token(image_id=IMAGE, action="download")
    assert image_transfer_allows(token, image_id=IMAGE, action="download")
    assert not image_transfer_allows(token, image_id=IMAGE, action="upload")
    assert not image_transfer_allows(token, image_id=OTHER, action="download")


def test_token_expires(monkeypatch):
    token = image_transfer_token(image_id=IMAGE, action="upload", ttl=5)
    later = time.time() + 6
    monkeypatch.setattr(time, "time", lambda: later)
    assert not image_transfer_allows(token, image_id=IMAGE, action="upload")


def test_tampered_or_foreign_tokens_are_refused():
    token = image_transfer_token(image_id=IMAGE, action="download")
    assert not image_transfer_allows(token[:-2] + "xx", image_id=IMAGE, action="download")
    assert not image_transfer_allows("garbage", image_id=IMAGE, action="download")
    with override_settings(SECRET_KEY="another-secret-key-entirely-for-this-test"):
        assert not image_transfer_allows(token, image_id=IMAGE, action="download")


def test_bad_arguments():
    with pytest.raises(ValueError):
        image_transfer_token(image_id=IMAGE, action="delete")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        image_transfer_token(image_id=IMAGE, action="download", ttl=0)


def test_transfer_url_is_absolute():
    with override_settings(IMAGE_API_URL="http://10.0.0.5:8000/image/"):
        assert image_transfer_url(image_id=IMAGE) == (
            f"http://10.0.0.5:8000/image/v2/images/{IMAGE}/file"
        )
