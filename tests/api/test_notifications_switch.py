"""Notifications are off unless NOTIFICATIONS_ENABLED: as Nova's until a driver is set,
since a queue nobody reads grows without end."""

import os

import pytest
from django.conf import settings as django_settings
from django.db import transaction

from cloud.rpc import notify

pytestmark = pytest.mark.django_db


def _published(django_capture_on_commit_callbacks) -> list:
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        notify("instance.create.start", lambda: None)
    return [c for c in callbacks if getattr(c, "notification", None) == "batch"]


def test_they_are_off_unless_the_environment_says_otherwise():
    wanted = os.environ.get("NOTIFICATIONS_ENABLED", "false").lower() in ("true", "1", "yes", "on")
    assert django_settings.NOTIFICATIONS_ENABLED is wanted


def test_none_is_published_when_off(django_capture_on_commit_callbacks, settings):
    settings.NOTIFICATIONS_ENABLED = False
    assert _published(django_capture_on_commit_callbacks) == []


def test_an_operator_turns_them_on(django_capture_on_commit_callbacks, settings):
    settings.NOTIFICATIONS_ENABLED = True
    assert len(_published(django_capture_on_commit_callbacks)) == 1
