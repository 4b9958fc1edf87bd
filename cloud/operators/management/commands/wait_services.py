"""`manage.py wait_services`: wait until a deployment's services have reported in (its
compute hosts up and schedulable, the network agents and volume backends named seen),
and say what is still missing when they have not in time.

One process polls the database, so a start script waiting minutes for a hundred hosts
costs one Django start, not one per poll (`deploy/stack.py start` waits with it)."""

import time
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

from cloud.hosts.selectors import host_names_schedulable
from cloud.network.selectors import agent_hosts_seen
from cloud.volumes.selectors import backends_with_usage


def _missing(*, hosts: int, agents: set[str], backends: int, since: datetime) -> str:
    """What is not up yet ('' once everything is)."""
    missing = []
    up = host_names_schedulable().count()
    if up < hosts:
        missing.append(f"{up} of {hosts} compute hosts up")
    silent = agents - agent_hosts_seen(since=since)
    if silent:
        missing.append(f"no network agent heard from on {', '.join(sorted(silent))}")
    volume_up = sum(backend.is_up for backend in backends_with_usage())
    if volume_up < backends:
        missing.append(f"{volume_up} of {backends} volume backends up")
    return "; ".join(missing)


class Command(BaseCommand):
    help = "Wait until the compute hosts, network agents and volume backends have reported."

    def add_arguments(self, parser):
        parser.add_argument("--hosts", type=int, default=0, help="compute hosts to be up")
        parser.add_argument(
            "--agents", nargs="*", default=[], help="hosts whose network agent must report"
        )
        parser.add_argument("--volume-backends", type=int, default=0)
        parser.add_argument(
            "--since", type=float, default=0.0, help="agents count from this Unix time"
        )
        parser.add_argument("--timeout", type=float, default=120.0)
        parser.add_argument("--interval", type=float, default=0.5)

    def handle(self, *args, hosts, agents, volume_backends, since, timeout, interval, **options):
        deadline = time.monotonic() + timeout
        since_at = datetime.fromtimestamp(since, UTC)
        while True:
            try:
                missing = _missing(
                    hosts=hosts, agents=set(agents), backends=volume_backends, since=since_at
                )
            except DatabaseError as exc:  # not migrated yet, or the database restarting
                connection.close()
                missing = f"database: {exc}".strip()
            if not missing:
                return
            if time.monotonic() >= deadline:
                raise CommandError(f"not up after {timeout:.0f}s: {missing}")
            time.sleep(interval)
