"""The scheduler: pick a host for an instance and claim its resources there.

Candidates come from SQL (up, enabled hosts with room); the best one that a
claim succeeds on wins, a conflicting claim moves on to the next candidate,
and the next few candidates are returned as alternates for reschedules.
"""

import logging
from dataclasses import dataclass, field

from cloud.hosts.selectors import host_counts, host_names_schedulable
from cloud.scheduler.placement import ClaimRejected, allocations_claim
from cloud.scheduler.selectors import candidates, consumer_provider, shortfall_counts

log = logging.getLogger(__name__)

CANDIDATE_LIMIT = 50
NUM_ALTERNATES = 2

_UNITS = {"MEMORY_MB": "MB RAM", "VCPU": "VCPU", "DISK_GB": "GB disk"}


@dataclass(frozen=True)
class SelectionRequest:
    instance_uuid: str
    project_id: str
    resources: dict[str, int]
    ignore_hosts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Selection:
    host: str | None
    alternates: list[str]
    error: str | None = None


def _describe(resources: dict[str, int]) -> str:
    return ", ".join(f"{amount} {_UNITS.get(rc, rc)}" for rc, amount in resources.items())


def no_valid_host_reason(request: SelectionRequest) -> str:
    """Why no host fits, counted per cause: a message an operator can act on."""
    counts = host_counts()
    schedulable = host_names_schedulable()
    shortfalls = shortfall_counts(resources=request.resources, names=schedulable)
    parts = []
    if counts["down"]:
        parts.append(f"{counts['down']} down")
    if counts["disabled"]:
        parts.append(f"{counts['disabled']} disabled")
    for rc, lacking in shortfalls.items():
        if lacking:
            parts.append(f"{lacking} lacked room for {request.resources[rc]} {_UNITS.get(rc, rc)}")
    if request.ignore_hosts:
        parts.append(f"{len(request.ignore_hosts)} already failed this build")
    detail = ", ".join(parts) if parts else "no compute hosts are registered"
    return (
        f"No valid host was found. 0 of {counts['total']} hosts could take "
        f"{_describe(request.resources)}: {detail}."
    )


def select_destination(request: SelectionRequest) -> Selection:
    # A redelivered request finds its own claim: answer with it rather than
    # claiming a second host (the conductor frees claims before rescheduling).
    held = consumer_provider(consumer_id=request.instance_uuid)
    if held is not None and held not in request.ignore_hosts:
        return Selection(host=held, alternates=[])
    found = candidates(
        resources=request.resources,
        names=host_names_schedulable(),
        exclude=request.ignore_hosts,
        limit=CANDIDATE_LIMIT,
    )
    for index, candidate in enumerate(found):
        try:
            allocations_claim(
                consumer_id=request.instance_uuid,
                project_id=request.project_id,
                provider_id=candidate.provider_id,
                resources=request.resources,
            )
        except ClaimRejected as exc:
            log.info(
                "claim for %s on %s lost a race: %s", request.instance_uuid, candidate.name, exc
            )
            continue
        alternates = [c.name for c in found[index + 1 : index + 1 + NUM_ALTERNATES]]
        return Selection(host=candidate.name, alternates=alternates)
    reason = no_valid_host_reason(request)
    log.warning("%s: %s", request.instance_uuid, reason)
    return Selection(host=None, alternates=[], error=reason)
