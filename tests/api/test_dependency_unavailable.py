"""The API while a dependency is away: the database, the broker or the cache unreachable
answers 503 with Retry-After in each API's error shape, never 500 (cloud.api.unavailable).

The database, the broker and the cache are really unreachable here (a port nothing
listens on); tests/chaos restarts them under a running stack.
"""

import json
from contextlib import contextmanager

import kombu.exceptions
import pytest
from django.db import InterfaceError, OperationalError, connection
from django.test import Client, RequestFactory
from django.urls import path
from rest_framework.test import APIClient

from cloud.api.errors import exception_handler, json_500
from cloud.celery import app
from cloud.instances.management.commands.seed import TINY_IMAGE_ID
from cloud.instances.models import Instance
from cloud.messaging import publish_retry_policy
from tests.conftest import free_port
from tests.helpers import PASSWORD


@contextmanager
def database_away(django_db_blocker):
    """The default connection pointed at a port nothing listens on."""
    saved = dict(connection.settings_dict)
    with django_db_blocker.unblock():
        connection.close()
        connection.settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()))
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict.clear()
            connection.settings_dict.update(saved)


def assert_retry_after(response) -> None:
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "5"


def test_compute_request_with_the_database_away_is_503_in_nova_shape(django_db_blocker):
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN="a" * 32)
    with database_away(django_db_blocker):
        response = client.get("/compute/v2.1/servers")
    assert_retry_after(response)
    assert response.json() == {
        "serviceUnavailable": {"code": 503, "message": "The service is busy; please retry shortly."}
    }


def test_token_request_with_the_database_away_is_503_in_keystone_shape(django_db_blocker):
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {"name": "alice", "domain": {"name": "Default"}, "password": "x"}
                },
            }
        }
    }
    with database_away(django_db_blocker):
        response = APIClient().post("/identity/v3/auth/tokens", body, format="json")
    assert_retry_after(response)
    assert response.json()["error"]["code"] == 503


def test_placement_request_with_the_database_away_is_503_in_placement_shape(django_db_blocker):
    client = APIClient()
    client.credentials(HTTP_X_AUTH_TOKEN="a" * 32)
    with database_away(django_db_blocker):
        response = client.get("/placement/resource_providers")
    assert_retry_after(response)
    (error,) = response.json()["errors"]
    assert error["status"] == 503
    assert error["request_id"] == response["X-OpenStack-Request-ID"]


def test_admin_page_with_the_database_away_is_503(django_db_blocker):
    """A plain Django view (the admin reads the session and the user from the database)."""
    client = Client()
    client.cookies["sessionid"] = "x" * 32
    with database_away(django_db_blocker):
        response = client.get("/admin/")
    assert_retry_after(response)


@pytest.mark.django_db
def test_login_with_the_cache_away_is_503(seeded, settings):
    """The failed-login counters live in Redis; a Redis that does not answer is a 503."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": "alice",
                        "domain": {"name": "Default"},
                        "password": PASSWORD + "wrong",
                    }
                },
            }
        }
    }
    response = APIClient().post("/identity/v3/auth/tokens", body, format="json")
    assert_retry_after(response)
    assert response.json()["error"]["code"] == 503


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (InterfaceError("connection already closed"), "The service is busy; please retry shortly."),
        (
            kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379."),
            "The message queue is unavailable; please retry shortly.",
        ),
    ],
)
def test_interface_and_broker_errors_are_503(exc, message):
    request = RequestFactory().post("/compute/v2.1/servers")
    response = exception_handler(exc, {"request": request})
    assert_retry_after(response)
    assert response.data == {"serviceUnavailable": {"code": 503, "message": message}}


def test_a_programming_error_stays_a_500():
    request = RequestFactory().post("/compute/v2.1/servers")
    response = exception_handler(ValueError("bug"), {"request": request})
    assert response.status_code == 500
    assert "Retry-After" not in response


def _broker_away_view(request):
    raise kombu.exceptions.OperationalError("[Errno 111] Connection refused")


urlpatterns = [path("plain", _broker_away_view)]


def test_plain_view_with_the_broker_away_is_503(settings):
    """Through the whole middleware stack: a plain Django view that found no broker."""
    settings.ROOT_URLCONF = __name__
    response = Client().get("/plain")
    assert_retry_after(response)
    assert response.json()["serviceUnavailable"]["code"] == 503


def test_failure_outside_a_view_is_503_from_the_500_handler():
    request = RequestFactory().get("/network/v2.0/networks")
    try:
        raise OperationalError("terminating connection due to administrator command")
    except OperationalError:
        response = json_500(request)
    assert_retry_after(response)
    assert json.loads(response.content)["NeutronError"]["type"] == "ServiceUnavailable"
    try:
        raise RuntimeError("bug")
    except RuntimeError:
        assert json_500(request).status_code == 500


@pytest.fixture
def broker_away(monkeypatch):
    """This process's Celery app publishing to a port nothing listens on, retrying once."""
    # Celery reads the broker's URL from the environment first.
    monkeypatch.setenv("CELERY_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setitem(app.conf, "task_publish_retry_policy", publish_retry_policy(1))
    app._after_fork()  # the producer pools are made afresh, on that URL
    yield
    monkeypatch.undo()
    app._after_fork()


def test_create_with_the_broker_away_is_503_and_leaves_no_server(
    transactional_db, api, broker_away
):
    body = {
        "server": {"name": "lost", "imageRef": TINY_IMAGE_ID, "flavorRef": "1", "networks": "none"}
    }
    response = api.post("/compute/v2.1/servers", body, format="json")
    assert_retry_after(response)
    assert response.json() == {
        "serviceUnavailable": {
            "code": 503,
            "message": "The message queue is unavailable; please retry shortly.",
        }
    }
    # The rows the create committed are taken back: nothing listed, nothing counted.
    assert not Instance.objects.filter(display_name="lost", deleted=False).exists()
    listed = api.get("/compute/v2.1/servers").json()["servers"]
    assert listed == []
