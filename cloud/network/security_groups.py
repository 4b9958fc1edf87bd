"""Security groups and their rules (Neutron's API): each project has a `default` group,
made on first use, that lets its members talk to each other and anything out; ports
get it unless they name others. A change of rules or members is sent to the hosts of
the ports it concerns, by the controller (cloud.network.notify)."""

import ipaddress
import re
from typing import Any

from django.db import IntegrityError, transaction

from cloud.api.errors import BadRequest, Conflict, NotFound
from cloud.api.parsing import InvalidValue, parse_int, uuid_or_none
from cloud.identity.context import RequestContext
from cloud.network import notify
from cloud.network.models import SecurityGroup, SecurityGroupRule
from cloud.network.quotas import quota_take

PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1, "ipv6-icmp": 58, "icmpv6": 58, "sctp": 132}
PORTED = {"tcp", "udp", "sctp", "6", "17", "132"}


def _default_rules(group: SecurityGroup) -> list[SecurityGroupRule]:
    rules = []
    for ethertype in ("IPv4", "IPv6"):
        rules.append(
            SecurityGroupRule(
                security_group=group,
                project_id=group.project_id,
                direction="egress",
                ethertype=ethertype,
            )
        )
        rules.append(
            SecurityGroupRule(
                security_group=group,
                project_id=group.project_id,
                direction="ingress",
                ethertype=ethertype,
                remote_group=group,
            )
        )
    return rules


def default_group_ensure(*, project_id: str) -> SecurityGroup:
    """The project's `default` group, made now if it has none (once, under concurrency:
    one default per project is a unique constraint)."""
    found = SecurityGroup.objects.filter(project_id=project_id, is_default=True).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            group = SecurityGroup.objects.create(
                project_id=project_id,
                name="default",
                description="Default security group",
                is_default=True,
            )
            SecurityGroupRule.objects.bulk_create(_default_rules(group))
            return group
    except IntegrityError:
        return SecurityGroup.objects.get(project_id=project_id, is_default=True)


def groups_for_port(
    *,
    context: RequestContext,
    project_id: str,
    requested: list[str] | None,
    port_security: bool,
    device_owner: str,
) -> list[SecurityGroup]:
    """The groups of a new or changed port: the named ones (the port's project's, or
    404), else the project's default; none for the platform's own ports or without
    port security (409 if groups were named then, as Neutron)."""
    if device_owner.startswith("network:"):
        return []
    if not port_security:
        if requested:
            raise Conflict(
                "Port has security group associated. Cannot disable port security or IP "
                "address until security group is removed.",
                code="PortSecurityPortHasSecurityGroup",
            )
        return []
    if requested is None:
        return [default_group_ensure(project_id=project_id)]
    if not isinstance(requested, list):
        raise BadRequest("Invalid input for security_groups: expected a list of ids.")
    wanted = list(dict.fromkeys(str(g) for g in requested))
    rows = SecurityGroup.objects.filter(project_id=project_id)
    found = {}
    for group_id in wanted:
        group = default_group_ensure(project_id=project_id) if group_id == "default" else None
        group = group or _find(rows, group_id)
        if group is None:
            raise NotFound(
                f"Security group {group_id} does not exist", code="SecurityGroupNotFound"
            )
        found[group.id] = group
    return list(found.values())


def security_group_find(*, project_id: str, key: str) -> SecurityGroup | None:
    """The project's group by id or (unique) name; its default is made on first use."""
    if key == "default":
        return default_group_ensure(project_id=project_id)
    return _find(SecurityGroup.objects.filter(project_id=project_id), key)


def _find(rows, key: str) -> SecurityGroup | None:
    pk = uuid_or_none(key)
    if pk is not None:
        return rows.filter(id=pk).first()
    else:
        matches = list(rows.filter(name=key)[:2])
        return matches[0] if len(matches) == 1 else None


@transaction.atomic
def security_group_create(
    *,
    context: RequestContext,
    project_id: str,
    name: str,
    description: str = "",
    stateful: bool = True,
) -> SecurityGroup:
    """A group with Neutron's two egress rules (IPv4, IPv6 to anywhere)."""
    default_group_ensure(project_id=project_id)
    quota_take(context=context, project_id=project_id, resource="security_group")
    if name == "default":
        raise Conflict(
            "Default security group already exists.", code="SecurityGroupDefaultAlreadyExists"
        )
    group = SecurityGroup.objects.create(
        project_id=project_id, name=name, description=description, stateful=stateful
    )
    SecurityGroupRule.objects.bulk_create(
        [
            SecurityGroupRule(
                security_group=group, project_id=project_id, direction="egress", ethertype=e
            )
            for e in ("IPv4", "IPv6")
        ]
    )
    return group


@transaction.atomic
def security_group_update(
    *, context: RequestContext, group: SecurityGroup, changes: dict[str, Any]
) -> SecurityGroup:
    group = SecurityGroup.objects.select_for_update().get(pk=group.pk)
    if group.is_default and changes.get("name", "default") != "default":
        raise Conflict(
            "Updating default security group not allowed.", code="SecurityGroupCannotUpdateDefault"
        )
    for key, value in changes.items():
        setattr(group, key, value)
    group.revision_number += 1
    group.save()
    return group


@transaction.atomic
def security_group_delete(*, context: RequestContext, group: SecurityGroup) -> None:
    """409 for the default group (but for an admin) and for a group ports still use."""
    group = SecurityGroup.objects.select_for_update().get(pk=group.pk)
    if group.is_default and not context.is_admin:
        raise Conflict(
            "Removing default security group not allowed.", code="SecurityGroupCannotRemoveDefault"
        )
    if group.ports.exists():
        raise Conflict(f"Security Group {group.id} in use.", code="SecurityGroupInUse")
    group.delete()


def _protocol(value: object, ethertype: str) -> str | None:
    if value in (None, "", "any"):
        return None
    text = str(value).lower()
    if text in PROTOCOLS:
        if text == "icmp" and ethertype == "IPv6":
            return "ipv6-icmp"
        return text
    if re.fullmatch(r"[0-9]{1,3}", text) and 0 <= parse_int(text, name="protocol") <= 255:
        return text
    raise BadRequest(
        f"Security group rule protocol {value} not supported. Only protocol values "
        f"{sorted(PROTOCOLS)} and integer representations [0 to 255] are supported."
    )


def _port_range(protocol: str | None, low: object, high: object) -> tuple[int | None, int | None]:
    def number(value: object, name: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool):
            raise BadRequest(f"Invalid value for {name}: {value!r}")
        try:
            return parse_int(value, name=name)
        except InvalidValue:
            raise BadRequest(f"Invalid value for {name}: {value!r}") from None

    low, high = number(low, "port_range_min"), number(high, "port_range_max")
    if protocol in PORTED:
        if low is not None and high is None:
            high = low
        if (low is None) != (high is None):
            raise BadRequest("For TCP/UDP protocols, port_range_min must be <= port_range_max")
        if low is not None and not (1 <= low <= high <= 65535):
            raise BadRequest(
                "Invalid value for port: for TCP/UDP protocols, port_range_min must be <= "
                "port_range_max, both between 1 and 65535"
            )
    elif protocol in ("icmp", "ipv6-icmp", "1", "58"):
        for value, name in ((low, "type"), (high, "code")):
            if value is not None and not 0 <= value <= 255:
                raise BadRequest(f"Invalid value for ICMP {name}: {value}. It must be 0 to 255.")
        if low is None and high is not None:
            raise BadRequest("ICMP code (port-range-max) is given without a type (port-range-min).")
    elif low is not None or high is not None:
        raise BadRequest(
            "Invalid input for operation: port range is only allowed for tcp, udp, sctp and icmp."
        )
    return low, high


@transaction.atomic
def security_group_rule_create(
    *,
    context: RequestContext,
    group: SecurityGroup,
    direction: str,
    ethertype: str = "IPv4",
    protocol: object = None,
    port_range_min: object = None,
    port_range_max: object = None,
    remote_ip_prefix: str | None = None,
    remote_group_id: str | None = None,
    description: str = "",
) -> SecurityGroupRule:
    """A rule, checked as Neutron checks it (409 for a duplicate); the hosts of the
    group's ports get their new rules."""
    if direction not in ("ingress", "egress"):
        raise BadRequest(
            f"Invalid input for direction. Reason: '{direction}' is not in ['ingress', 'egress']."
        )
    if ethertype not in ("IPv4", "IPv6"):
        raise BadRequest(
            f"Invalid input for ethertype. Reason: '{ethertype}' is not in ['IPv4', 'IPv6']."
        )
    quota_take(context=context, project_id=group.project_id, resource="security_group_rule")
    proto = _protocol(protocol, ethertype)
    low, high = _port_range(proto, port_range_min, port_range_max)
    if remote_ip_prefix and remote_group_id:
        raise BadRequest("Only remote_ip_prefix or remote_group_id may be provided.")
    prefix = None
    if remote_ip_prefix:
        try:
            net = ipaddress.ip_network(str(remote_ip_prefix), strict=False)
        except ValueError:
            raise BadRequest(
                f"Invalid input for remote_ip_prefix. Reason: '{remote_ip_prefix}' is not a "
                f"valid IP subnet."
            ) from None
        if (net.version == 4) != (ethertype == "IPv4"):
            raise BadRequest(f"Conflicting value ethertype {ethertype} for CIDR {remote_ip_prefix}")
        prefix = str(net)
    remote = None
    if remote_group_id:
        remote = _find(
            SecurityGroup.objects.filter(project_id=group.project_id), str(remote_group_id)
        )
        if remote is None:
            raise NotFound(
                f"Security group {remote_group_id} does not exist", code="SecurityGroupNotFound"
            )
    same = SecurityGroupRule.objects.filter(
        security_group=group,
        direction=direction,
        ethertype=ethertype,
        protocol=proto,
        port_range_min=low,
        port_range_max=high,
        remote_ip_prefix=prefix,
        remote_group=remote,
    ).first()
    if same is not None:
        raise Conflict(
            f"Security group rule already exists. Rule id is {same.id}.",
            code="SecurityGroupRuleExists",
        )
    rule = SecurityGroupRule.objects.create(
        security_group=group,
        project_id=group.project_id,
        direction=direction,
        ethertype=ethertype,
        protocol=proto,
        port_range_min=low,
        port_range_max=high,
        remote_ip_prefix=prefix,
        remote_group=remote,
        description=description,
    )
    group.revision_number += 1
    group.save(update_fields=["revision_number", "updated_at"])
    notify.security_group_changed(str(group.id))
    return rule


@transaction.atomic
def security_group_rule_delete(*, context: RequestContext, rule: SecurityGroupRule) -> None:
    group_id = str(rule.security_group_id)
    rule.delete()
    notify.security_group_changed(group_id)
