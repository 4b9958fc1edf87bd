"""`manage.py wait_services`: how `deploy/stack.py start` knows a stack is up."""

import time
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from cloud.hosts.models import ComputeNode
from cloud.network.models import NetworkAgent
from cloud.volumes.models import VolumeBackend

pytestmark = pytest.mark.django_db


def _wait(**options) -> None:
    call_command("wait_services", timeout=0.3, interval=0.1, **options)


def test_it_names_what_has_not_reported_in_time():
    ComputeNode.objects.create(host="hv-1", last_seen_at=timezone.now())
    ComputeNode.objects.create(host="hv-2", last_seen_at=timezone.now() - timedelta(hours=1))
    NetworkAgent.objects.create(host="hv-1", last_seen=timezone.now() - timedelta(hours=1))
    with pytest.raises(CommandError) as failed:
        _wait(hosts=2, agents=["hv-1"], volume_backends=1, since=time.time() - 60)
    assert str(failed.value) == (
        "not up after 0s: 1 of 2 compute hosts up; no network agent heard from on hv-1; "
        "0 of 1 volume backends up"
    )


def test_it_returns_once_everything_has_reported():
    for host in ("hv-1", "hv-2"):
        ComputeNode.objects.create(host=host, last_seen_at=timezone.now())
    NetworkAgent.objects.create(host="hv-1", last_seen=timezone.now())
    VolumeBackend.objects.create(name="file", host="vol-1", driver="file", last_seen=timezone.now())
    _wait(hosts=2, agents=["hv-1"], volume_backends=1, since=time.time() - 60)


def test_an_agent_heard_from_before_the_start_does_not_count():
    ComputeNode.objects.create(host="hv-1", last_seen_at=timezone.now())
    NetworkAgent.objects.create(host="hv-1", last_seen=timezone.now() - timedelta(seconds=30))
    with pytest.raises(CommandError, match="no network agent heard from on hv-1"):
        _wait(hosts=1, agents=["hv-1"], since=time.time() - 5)
