"""The network app's quota counters (live rows, never stored usage): Neutron counts a
project's networks, subnets, ports, security groups, rules and floating IPs; the ports
the platform makes for itself (DHCP servers, floating addresses) are not the user's."""

from cloud.api.errors import Conflict
from cloud.identity import quotas
from cloud.identity.context import RequestContext


def quota_take(*, context: RequestContext, project_id: str, resource: str, count: int = 1) -> None:
    """Neutron's quota check inside the writing transaction (the project's row lock, as
    the compute quotas): 409 OverQuota when it does not fit."""
    try:
        quotas.quota_enforce(
            project_id=project_id, user_id=context.user_id, deltas={resource: count}
        )
    except quotas.QuotaExceeded:
        raise Conflict(f"Quota exceeded for resources: ['{resource}'].", code="OverQuota") from None


def register() -> None:
    from cloud.network import models

    counted = {
        "network": models.Network.objects.all(),
        "subnet": models.Subnet.objects.all(),
        "port": models.Port.objects.exclude(device_owner__startswith="network:"),
        "security_group": models.SecurityGroup.objects.all(),
        "security_group_rule": models.SecurityGroupRule.objects.all(),
        "floatingip": models.FloatingIP.objects.all(),
    }
    for resource, rows in counted.items():
        quotas.register_counter(
            resource,
            lambda project_id, user_id, rows=rows: rows.filter(project_id=project_id).count(),
        )
