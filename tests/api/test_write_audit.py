"""cloud.api.write_audit: a 4xx whose request committed an INSERT is logged and counted
(the schema fuzzer fails on the line); an INSERT rolled back, or a 2xx, is not."""

import logging

import pytest
from django.db import transaction
from django.http import JsonResponse
from django.test import RequestFactory

from cloud.api.write_audit import ClientErrorWritesMiddleware
from cloud.observability.metrics import CLIENT_ERROR_WRITES
from cloud.placement.models import Trait

LINE = "client error left rows"


def _call(view):
    request = RequestFactory().post("/placement/traits")
    request.request_id = "req-test"
    return ClientErrorWritesMiddleware(view)(request)


def _count() -> float:
    return CLIENT_ERROR_WRITES.labels(method="POST", route="unmatched")._value.get()


@pytest.mark.django_db(transaction=True)
def test_a_4xx_that_committed_an_insert_is_logged(caplog):
    def view(request):
        Trait.objects.create(name="CUSTOM_LEFT")
        return JsonResponse({}, status=400)

    before = _count()
    with caplog.at_level(logging.ERROR, "cloud.api.write_audit"):
        assert _call(view).status_code == 400
    assert [r.getMessage() for r in caplog.records if LINE in r.getMessage()] == [
        f"{LINE}: POST unmatched answered 400 after inserting into placement_trait "
        "(request req-test)"
    ]
    assert _count() == before + 1


@pytest.mark.django_db(transaction=True)
def test_an_insert_rolled_back_or_a_success_is_not(caplog):
    def rolled_back(request):
        try:
            with transaction.atomic():
                Trait.objects.create(name="CUSTOM_GONE")
                raise ValueError
        except ValueError:
            return JsonResponse({}, status=409)

    def created(request):
        with transaction.atomic():
            Trait.objects.create(name="CUSTOM_KEPT")
        return JsonResponse({}, status=201)

    with caplog.at_level(logging.ERROR, "cloud.api.write_audit"):
        assert _call(rolled_back).status_code == 409
        assert _call(created).status_code == 201
    assert not [r for r in caplog.records if LINE in r.getMessage()]
    assert not Trait.objects.filter(name="CUSTOM_GONE").exists()
