"""Neutron v2.0 subset: networks, subnets, ports, security groups and rules, floating
IPs, quotas, extensions and the version documents. Views parse, authorize, call one
service, present; another project's rows answer 404 (the selectors never see them)."""

from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound
from cloud.api.views import base_url
from cloud.identity import quotas
from cloud.identity.policy import PolicyDenied
from cloud.identity.views import OpenStackView
from cloud.network import floating_ips, security_groups, selectors, services
from cloud.network.api import presenters
from cloud.network.api.parsing import (
    NeutronBody,
    anything,
    boolean,
    filtered,
    integer_or_none,
    listing,
    optional_text,
    text,
)

EXTENSIONS = [
    ("security-group", "security-group", "The security groups extension."),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
    (
        "external-net",
        "Neutron external network",
        "Adds external network attribute to network resource.",
    ),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    ("port-security", "Port Security", "Provides port security"),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    ("quotas", "Quota management support", "Expose functions for quotas management per tenant"),
    (
        "quota_details",
        "Quota details management support",
        "Expose functions for quotas usage statistics per project",
    ),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    (
        "project-id",
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
    ),
    (
        "standard-attr-description",
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    (
        "standard-attr-revisions",
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    (
        "standard-attr-timestamp",
        "Resource timestamps",
        "Adds created_at and updated_at fields to all Neutron resources.",
    ),
    (
        "floatingip-port-details",
        "Floating IP Port Details Extension",
        "Add port_details attribute to Floating IP resource",
    ),
    (
        "stateful-security-group",
        "Stateful security group",
        "Indicates if the security group is stateful or not",
    ),
]


def _extension(alias: str, name: str, description: str) -> dict:
    return {
        "alias": alias,
        "name": name,
        "description": description,
        "updated": "2013-01-20T00:00:00-00:00",
        "links": [],
    }


class NetworkVersionsView(OpenStackView):
    """GET /network: the version list (anonymous)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        href = f"{base_url(request)}/network/v2.0/"
        return Response(
            {
                "versions": [
                    {"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": href}]}
                ]
            }
        )


class NetworkVersionView(OpenStackView):
    """GET /network/v2.0: the resources of this version (anonymous)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get(self, request):
        base = f"{base_url(request)}/network/v2.0"
        names = [
            "network",
            "subnet",
            "port",
            "security_group",
            "security_group_rule",
            "floatingip",
            "quota",
            "extension",
        ]
        collections = {
            "network": "networks",
            "subnet": "subnets",
            "port": "ports",
            "security_group": "security-groups",
            "security_group_rule": "security-group-rules",
            "floatingip": "floatingips",
            "quota": "quotas",
            "extension": "extensions",
        }
        return Response(
            {
                "resources": [
                    {
                        "name": name,
                        "collection": collections[name],
                        "links": [{"rel": "self", "href": f"{base}/{collections[name]}"}],
                    }
                    for name in names
                ]
            }
        )


class ExtensionListView(OpenStackView):
    def get(self, request):
        return Response({"extensions": [_extension(*e) for e in EXTENSIONS]})


class ExtensionView(OpenStackView):
    def get(self, request, alias: str):
        for found in EXTENSIONS:
            if found[0] == alias:
                return Response({"extension": _extension(*found)})
        raise NotFound(f"Extension with alias {alias} does not exist", code="ExtensionNotFound")


def _prefilter(rows, request, columns: dict[str, str]):
    """Narrow the query by the filters the database can answer (the rest in Python)."""
    for param, column in columns.items():
        values = request.GET.getlist(param)
        if values:
            if column.endswith("id"):
                values = [v for v in (selectors.uuid_or_none(v) for v in values) if v]
                if not values:
                    return rows.none()
            rows = rows.filter(**{f"{column}__in": values})
    return rows


def _listing(request, key: str, rows, present) -> Response:
    return Response({key: filtered(request, [present(row) for row in rows])})


def _admin_only(view: OpenStackView, attrs: dict, rules: dict[str, str]) -> None:
    for attribute, rule in rules.items():
        if attribute in attrs:
            view.authorize(rule)


# -- networks ------------------------------------------------------------------------

NETWORK_ATTRS = {
    "name": text,
    "description": text,
    "admin_state_up": boolean,
    "shared": boolean,
    "router:external": boolean,
    "mtu": integer_or_none,
    "port_security_enabled": boolean,
    "provider:network_type": optional_text,
    "provider:physical_network": optional_text,
    "provider:segmentation_id": integer_or_none,
    "project_id": text,
    "tenant_id": text,
}
NETWORK_IGNORED = {"availability_zone_hints", "is_default", "qos_policy_id", "dns_domain", "tags"}
NETWORK_ADMIN = {
    "shared": "create_network:shared",
    "router:external": "create_network:router:external",
    "provider:network_type": "create_network:provider:network_type",
    "provider:physical_network": "create_network:provider:physical_network",
    "provider:segmentation_id": "create_network:provider:segmentation_id",
}


def _network(view, network_id: str):
    found = selectors.network_get(context=view.context, network_id=network_id)
    if found is None:
        raise NotFound(f"Network {network_id} could not be found.", code="NetworkNotFound")
    return found


NETWORK_CREATE = NeutronBody("network", NETWORK_ATTRS, NETWORK_IGNORED)


class NetworkListView(OpenStackView):
    """GET, POST /v2.0/networks"""

    def get(self, request):
        self.authorize("get_network")
        rows = _prefilter(
            selectors.network_list(context=self.context), request, {"id": "id", "name": "name"}
        )
        return _listing(request, "networks", rows, presenters.network_body)

    @NETWORK_CREATE.declared
    def post(self, request):
        self.authorize("create_network")
        attrs = NETWORK_CREATE.parse(request)
        _admin_only(self, attrs, NETWORK_ADMIN)
        network = services.network_create(
            context=self.context,
            name=attrs.get("name", ""),
            description=attrs.get("description", ""),
            project_id=attrs.get("project_id") or attrs.get("tenant_id"),
            admin_state_up=attrs.get("admin_state_up", True),
            shared=attrs.get("shared", False),
            external=attrs.get("router:external", False),
            mtu=attrs.get("mtu"),
            port_security_enabled=attrs.get("port_security_enabled", True),
            network_type=attrs.get("provider:network_type"),
            physical_network=attrs.get("provider:physical_network"),
            segmentation_id=attrs.get("provider:segmentation_id"),
        )
        network = selectors.network_get(context=self.context, network_id=str(network.id))
        return Response(
            {"network": presenters.network_body(network)}, status=status.HTTP_201_CREATED
        )


NETWORK_UPDATE = NeutronBody(
    "network",
    {
        k: NETWORK_ATTRS[k]
        for k in (
            "name",
            "description",
            "admin_state_up",
            "shared",
            "router:external",
            "mtu",
            "port_security_enabled",
        )
    },
    NETWORK_IGNORED,
)


class NetworkView(OpenStackView):
    """GET, PUT, DELETE /v2.0/networks/{id}"""

    def get(self, request, network_id: str):
        self.authorize("get_network")
        body = presenters.network_body(_network(self, network_id))
        fields = request.GET.getlist("fields")
        return Response({"network": {k: v for k, v in body.items() if not fields or k in fields}})

    @NETWORK_UPDATE.declared
    def put(self, request, network_id: str):
        network = _network(self, network_id)
        self.authorize("update_network", {"project_id": network.project_id})
        attrs = NETWORK_UPDATE.parse(request)
        _admin_only(
            self,
            attrs,
            {
                "shared": "update_network:shared",
                "router:external": "update_network:router:external",
            },
        )
        if "router:external" in attrs:
            attrs["external"] = attrs.pop("router:external")
        services.network_update(context=self.context, network=network, changes=attrs)
        return Response({"network": presenters.network_body(_network(self, network_id))})

    def delete(self, request, network_id: str):
        network = _network(self, network_id)
        self.authorize("delete_network", {"project_id": network.project_id})
        services.network_delete(context=self.context, network=network)
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- subnets -------------------------------------------------------------------------

SUBNET_ATTRS = {
    "name": text,
    "description": text,
    "network_id": text,
    "cidr": anything,
    "ip_version": integer_or_none,
    "gateway_ip": anything,
    "allocation_pools": listing,
    "dns_nameservers": listing,
    "host_routes": listing,
    "enable_dhcp": boolean,
    "project_id": text,
    "tenant_id": text,
}
SUBNET_IGNORED = {
    "ipv6_ra_mode",
    "ipv6_address_mode",
    "service_types",
    "segment_id",
    "dns_publish_fixed_ip",
    "tags",
    "subnetpool_id",
    "use_default_subnet_pool",
    "prefixlen",
}


def _subnet(view, subnet_id: str):
    found = selectors.subnet_get(context=view.context, subnet_id=subnet_id)
    if found is None:
        raise NotFound(f"Subnet {subnet_id} could not be found.", code="SubnetNotFound")
    return found


SUBNET_CREATE = NeutronBody("subnet", SUBNET_ATTRS, SUBNET_IGNORED)


class SubnetListView(OpenStackView):
    def get(self, request):
        self.authorize("get_subnet")
        rows = _prefilter(
            selectors.subnet_list(context=self.context),
            request,
            {"id": "id", "name": "name", "network_id": "network_id"},
        )
        return _listing(request, "subnets", rows, presenters.subnet_body)

    @SUBNET_CREATE.declared
    def post(self, request):
        self.authorize("create_subnet")
        attrs = SUBNET_CREATE.parse(request)
        if "network_id" not in attrs or "cidr" not in attrs:
            raise BadRequest("Invalid input for operation: network_id and cidr are required.")
        network = selectors.network_get(context=self.context, network_id=attrs["network_id"])
        if network is None:
            raise NotFound(
                f"Network {attrs['network_id']} could not be found.", code="NetworkNotFound"
            )
        subnet = services.subnet_create(
            context=self.context,
            network=network,
            cidr=attrs["cidr"],
            ip_version=attrs.get("ip_version") or 4,
            name=attrs.get("name", ""),
            description=attrs.get("description", ""),
            project_id=attrs.get("project_id") or attrs.get("tenant_id"),
            gateway_ip=attrs.get("gateway_ip", True),
            allocation_pools=attrs.get("allocation_pools") or None,
            dns_nameservers=attrs.get("dns_nameservers"),
            host_routes=attrs.get("host_routes"),
            enable_dhcp=attrs.get("enable_dhcp", True),
        )
        return Response({"subnet": presenters.subnet_body(subnet)}, status=status.HTTP_201_CREATED)


SUBNET_UPDATE = NeutronBody(
    "subnet",
    {k: SUBNET_ATTRS[k] for k in ("name", "description", "enable_dhcp", "dns_nameservers")},
    SUBNET_IGNORED | {"host_routes", "allocation_pools", "gateway_ip"},
)


class SubnetView(OpenStackView):
    def get(self, request, subnet_id: str):
        self.authorize("get_subnet")
        return Response({"subnet": presenters.subnet_body(_subnet(self, subnet_id))})

    @SUBNET_UPDATE.declared
    def put(self, request, subnet_id: str):
        subnet = _subnet(self, subnet_id)
        self.authorize("update_subnet", {"project_id": subnet.project_id})
        attrs = SUBNET_UPDATE.parse(request)
        subnet = services.subnet_update(context=self.context, subnet=subnet, changes=attrs)
        return Response({"subnet": presenters.subnet_body(subnet)})

    def delete(self, request, subnet_id: str):
        subnet = _subnet(self, subnet_id)
        self.authorize("delete_subnet", {"project_id": subnet.project_id})
        services.subnet_delete(context=self.context, subnet=subnet)
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- ports ---------------------------------------------------------------------------

PORT_ATTRS = {
    "name": text,
    "description": text,
    "network_id": text,
    "mac_address": text,
    "fixed_ips": listing,
    "admin_state_up": boolean,
    "device_id": text,
    "device_owner": text,
    "security_groups": listing,
    "port_security_enabled": boolean,
    "allowed_address_pairs": listing,
    "binding:host_id": text,
    "project_id": text,
    "tenant_id": text,
}
PORT_IGNORED = {
    "binding:vnic_type",
    "binding:profile",
    "dns_name",
    "dns_domain",
    "qos_policy_id",
    "propagate_uplink_status",
    "extra_dhcp_opts",
    "tags",
    "numa_affinity_policy",
}


def _port(view, port_id: str):
    found = selectors.port_get(context=view.context, port_id=port_id)
    if found is None:
        raise NotFound(f"Port {port_id} could not be found.", code="PortNotFound")
    return found


def _pairs(value: list) -> list[dict]:
    pairs = []
    for pair in value:
        if not isinstance(pair, dict) or "ip_address" not in pair:
            raise BadRequest("Invalid input for allowed_address_pairs: each needs ip_address.")
        pairs.append(
            {"ip_address": str(pair["ip_address"]), "mac_address": pair.get("mac_address")}
        )
    return pairs


PORT_CREATE = NeutronBody("port", PORT_ATTRS, PORT_IGNORED)


class PortListView(OpenStackView):
    def get(self, request):
        self.authorize("get_port")
        rows = _prefilter(
            selectors.port_list(context=self.context),
            request,
            {"id": "id", "name": "name", "network_id": "network_id", "device_id": "device_id"},
        )
        return _listing(request, "ports", rows, presenters.port_body)

    @PORT_CREATE.declared
    def post(self, request):
        self.authorize("create_port")
        attrs = PORT_CREATE.parse(request)
        _admin_only(self, attrs, {"binding:host_id": "create_port:binding:host_id"})
        if "network_id" not in attrs:
            raise BadRequest("Invalid input for operation: network_id is required.")
        network = selectors.network_get(context=self.context, network_id=attrs["network_id"])
        if network is None:
            raise NotFound(
                f"Network {attrs['network_id']} could not be found.", code="NetworkNotFound"
            )
        port = services.port_create(
            context=self.context,
            network=network,
            name=attrs.get("name", ""),
            description=attrs.get("description", ""),
            project_id=attrs.get("project_id") or attrs.get("tenant_id"),
            mac_address=attrs.get("mac_address") or None,
            fixed_ips=attrs.get("fixed_ips", None),
            admin_state_up=attrs.get("admin_state_up", True),
            device_id=attrs.get("device_id", ""),
            device_owner=attrs.get("device_owner", ""),
            security_groups=attrs.get("security_groups", None),
            port_security_enabled=attrs.get("port_security_enabled"),
            allowed_address_pairs=_pairs(attrs.get("allowed_address_pairs", [])),
            binding_host=attrs.get("binding:host_id", ""),
        )
        return Response(
            {"port": presenters.port_body(_port(self, str(port.id)))},
            status=status.HTTP_201_CREATED,
        )


PORT_UPDATE = NeutronBody(
    "port",
    {k: v for k, v in PORT_ATTRS.items() if k not in ("network_id", "project_id", "tenant_id")},
    PORT_IGNORED,
)


class PortView(OpenStackView):
    def get(self, request, port_id: str):
        self.authorize("get_port")
        return Response({"port": presenters.port_body(_port(self, port_id))})

    @PORT_UPDATE.declared
    def put(self, request, port_id: str):
        port = _port(self, port_id)
        self.authorize("update_port", {"project_id": port.project_id})
        attrs = PORT_UPDATE.parse(request)
        _admin_only(self, attrs, {"binding:host_id": "update_port:binding:host_id"})
        if "binding:host_id" in attrs:
            attrs["binding_host"] = attrs.pop("binding:host_id")
        if "allowed_address_pairs" in attrs:
            attrs["allowed_address_pairs"] = _pairs(attrs["allowed_address_pairs"])
        services.port_update(context=self.context, port=port, changes=attrs)
        return Response({"port": presenters.port_body(_port(self, port_id))})

    def delete(self, request, port_id: str):
        port = _port(self, port_id)
        self.authorize("delete_port", {"project_id": port.project_id})
        services.port_delete(context=self.context, port=port)
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- security groups -----------------------------------------------------------------

GROUP_ATTRS = {
    "name": text,
    "description": text,
    "stateful": boolean,
    "project_id": text,
    "tenant_id": text,
}


def _group(view, group_id: str):
    found = selectors.security_group_get(context=view.context, group_id=group_id)
    if found is None:
        raise NotFound(f"Security group {group_id} does not exist", code="SecurityGroupNotFound")
    return found


def _project(view, attrs: dict) -> str:
    wanted = attrs.get("project_id") or attrs.get("tenant_id") or view.context.project_id
    if wanted != view.context.project_id and not view.context.is_admin:
        raise PolicyDenied()
    if not wanted:
        raise BadRequest("A project-scoped token is required.")
    return wanted


SECURITY_GROUP_CREATE = NeutronBody("security_group", GROUP_ATTRS, {"tags"})


class SecurityGroupListView(OpenStackView):
    def get(self, request):
        self.authorize("get_security_group")
        if self.context.project_id:
            security_groups.default_group_ensure(project_id=self.context.project_id)
        rows = _prefilter(
            selectors.security_group_list(context=self.context),
            request,
            {"id": "id", "name": "name"},
        )
        return _listing(request, "security_groups", rows, presenters.security_group_body)

    @SECURITY_GROUP_CREATE.declared
    def post(self, request):
        self.authorize("create_security_group")
        attrs = SECURITY_GROUP_CREATE.parse(request)
        if not attrs.get("name"):
            raise BadRequest("Invalid input for operation: name is required.")
        group = security_groups.security_group_create(
            context=self.context,
            project_id=_project(self, attrs),
            name=attrs["name"],
            description=attrs.get("description", ""),
            stateful=attrs.get("stateful", True),
        )
        group = selectors.security_group_get(context=self.context, group_id=str(group.id))
        return Response(
            {"security_group": presenters.security_group_body(group)},
            status=status.HTTP_201_CREATED,
        )


SECURITY_GROUP_UPDATE = NeutronBody(
    "security_group", {k: GROUP_ATTRS[k] for k in ("name", "description", "stateful")}, {"tags"}
)


class SecurityGroupView(OpenStackView):
    def get(self, request, group_id: str):
        self.authorize("get_security_group")
        # No default group made here (the listing and a port's create make it): a group
        # shown by id exists already, and a 404 must leave nothing written.
        return Response({"security_group": presenters.security_group_body(_group(self, group_id))})

    @SECURITY_GROUP_UPDATE.declared
    def put(self, request, group_id: str):
        group = _group(self, group_id)
        self.authorize("update_security_group", {"project_id": group.project_id})
        attrs = SECURITY_GROUP_UPDATE.parse(request)
        security_groups.security_group_update(context=self.context, group=group, changes=attrs)
        return Response({"security_group": presenters.security_group_body(_group(self, group_id))})

    def delete(self, request, group_id: str):
        group = _group(self, group_id)
        self.authorize("delete_security_group", {"project_id": group.project_id})
        security_groups.security_group_delete(context=self.context, group=group)
        return Response(status=status.HTTP_204_NO_CONTENT)


RULE_ATTRS = {
    "security_group_id": text,
    "direction": text,
    "ethertype": text,
    "protocol": anything,
    "port_range_min": anything,
    "port_range_max": anything,
    "remote_ip_prefix": optional_text,
    "remote_group_id": optional_text,
    "description": text,
    "project_id": text,
    "tenant_id": text,
}


def _rule(view, rule_id: str):
    found = selectors.security_group_rule_get(context=view.context, rule_id=rule_id)
    if found is None:
        raise NotFound(
            f"Security group rule {rule_id} does not exist", code="SecurityGroupRuleNotFound"
        )
    return found


SECURITY_GROUP_RULE_CREATE = NeutronBody(
    "security_group_rule", RULE_ATTRS, {"remote_address_group_id"}
)


class SecurityGroupRuleListView(OpenStackView):
    def get(self, request):
        self.authorize("get_security_group_rule")
        rows = _prefilter(
            selectors.security_group_rule_list(context=self.context),
            request,
            {"id": "id", "security_group_id": "security_group_id"},
        )
        return _listing(request, "security_group_rules", rows, presenters.rule_body)

    @SECURITY_GROUP_RULE_CREATE.declared
    def post(self, request):
        self.authorize("create_security_group_rule")
        attrs = SECURITY_GROUP_RULE_CREATE.parse(request)
        if "security_group_id" not in attrs or "direction" not in attrs:
            raise BadRequest(
                "Invalid input for operation: security_group_id and direction are required."
            )
        group = _group(self, attrs["security_group_id"])
        if not self.context.is_admin and group.project_id != self.context.project_id:
            raise NotFound(f"Security group {attrs['security_group_id']} does not exist")
        rule = security_groups.security_group_rule_create(
            context=self.context,
            group=group,
            direction=attrs["direction"],
            ethertype=attrs.get("ethertype") or "IPv4",
            protocol=attrs.get("protocol"),
            port_range_min=attrs.get("port_range_min"),
            port_range_max=attrs.get("port_range_max"),
            remote_ip_prefix=attrs.get("remote_ip_prefix"),
            remote_group_id=attrs.get("remote_group_id"),
            description=attrs.get("description", ""),
        )
        return Response(
            {"security_group_rule": presenters.rule_body(rule)}, status=status.HTTP_201_CREATED
        )


class SecurityGroupRuleView(OpenStackView):
    def get(self, request, rule_id: str):
        self.authorize("get_security_group_rule")
        return Response({"security_group_rule": presenters.rule_body(_rule(self, rule_id))})

    def delete(self, request, rule_id: str):
        rule = _rule(self, rule_id)
        self.authorize("delete_security_group_rule", {"project_id": rule.project_id})
        security_groups.security_group_rule_delete(context=self.context, rule=rule)
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- floating IPs --------------------------------------------------------------------

FLOATING_ATTRS = {
    "floating_network_id": text,
    "floating_ip_address": optional_text,
    "subnet_id": optional_text,
    "port_id": optional_text,
    "fixed_ip_address": optional_text,
    "description": text,
    "project_id": text,
    "tenant_id": text,
}


def _floating(view, floating_ip_id: str):
    found = selectors.floating_ip_get(context=view.context, floating_ip_id=floating_ip_id)
    if found is None:
        raise NotFound(
            f"Floating IP {floating_ip_id} could not be found", code="FloatingIPNotFound"
        )
    return found


FLOATINGIP_CREATE = NeutronBody(
    "floatingip", FLOATING_ATTRS, {"qos_policy_id", "dns_name", "dns_domain", "tags"}
)


class FloatingIPListView(OpenStackView):
    def get(self, request):
        self.authorize("get_floatingip")
        rows = _prefilter(
            selectors.floating_ip_list(context=self.context),
            request,
            {"id": "id", "port_id": "port_id"},
        )
        return _listing(request, "floatingips", rows, presenters.floating_ip_body)

    @FLOATINGIP_CREATE.declared
    def post(self, request):
        self.authorize("create_floatingip")
        attrs = FLOATINGIP_CREATE.parse(request)
        if "floating_network_id" not in attrs:
            raise BadRequest("Invalid input for operation: floating_network_id is required.")
        network = selectors.network_get(
            context=self.context, network_id=attrs["floating_network_id"]
        )
        if network is None:
            raise NotFound(
                f"Network {attrs['floating_network_id']} could not be found.",
                code="NetworkNotFound",
            )
        floating = floating_ips.floating_ip_create(
            context=self.context,
            project_id=_project(self, attrs),
            floating_network=network,
            floating_ip_address=attrs.get("floating_ip_address"),
            subnet_id=attrs.get("subnet_id"),
            port_id=attrs.get("port_id"),
            fixed_ip_address=attrs.get("fixed_ip_address"),
            description=attrs.get("description", ""),
        )
        return Response(
            {"floatingip": presenters.floating_ip_body(_floating(self, str(floating.id)))},
            status=status.HTTP_201_CREATED,
        )


FLOATINGIP_UPDATE = NeutronBody(
    "floatingip",
    {k: FLOATING_ATTRS[k] for k in ("port_id", "fixed_ip_address", "description")},
    {"qos_policy_id"},
)


class FloatingIPView(OpenStackView):
    def get(self, request, floating_ip_id: str):
        self.authorize("get_floatingip")
        return Response(
            {"floatingip": presenters.floating_ip_body(_floating(self, floating_ip_id))}
        )

    @FLOATINGIP_UPDATE.declared
    def put(self, request, floating_ip_id: str):
        floating = _floating(self, floating_ip_id)
        self.authorize("update_floatingip", {"project_id": floating.project_id})
        attrs = FLOATINGIP_UPDATE.parse(request)
        port_id = (
            attrs.get("port_id")
            if "port_id" in attrs
            else (str(floating.port_id) if floating.port_id else None)
        )
        floating_ips.floating_ip_update(
            context=self.context,
            floating=floating,
            port_id=port_id,
            fixed_ip_address=attrs.get("fixed_ip_address"),
            description=attrs.get("description"),
        )
        return Response(
            {"floatingip": presenters.floating_ip_body(_floating(self, floating_ip_id))}
        )

    def delete(self, request, floating_ip_id: str):
        floating = _floating(self, floating_ip_id)
        self.authorize("delete_floatingip", {"project_id": floating.project_id})
        floating_ips.floating_ip_delete(context=self.context, floating=floating)
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- quotas --------------------------------------------------------------------------


QUOTA_UPDATE = NeutronBody(
    "quota", {**dict.fromkeys(quotas.NETWORK_RESOURCES, anything), "check_limit": boolean}
)


class QuotaView(OpenStackView):
    """GET, PUT, DELETE /v2.0/quotas/{project_id}: the project's network limits; PUT
    (admin) sets some, DELETE (admin) resets them to the defaults, as Neutron's (the
    compute limits stay)."""

    def get(self, request, project_id: str):
        self._check(project_id)
        return Response({"quota": quotas.limits(project_id=project_id, network=True)})

    @QUOTA_UPDATE.declared
    def put(self, request, project_id: str):
        self.authorize("update_quota", {"project_id": project_id})
        attrs = QUOTA_UPDATE.parse(request)
        check = attrs.pop("check_limit", False)
        found = quotas.network_quota_update(
            project_id=project_id, requested=attrs, check_limit=check
        )
        return Response({"quota": found})

    def delete(self, request, project_id: str):
        self.authorize("delete_quota", {"project_id": project_id})
        quotas.network_quota_delete(project_id=project_id)
        return Response(status=204)

    def _check(self, project_id: str) -> None:
        self.authorize("get_quota", {"project_id": project_id})


class QuotaDetailsView(QuotaView):
    """GET /v2.0/quotas/{project_id}/details: limits with usage."""

    http_method_names = ["get", "head", "options"]

    def get(self, request, project_id: str):
        self._check(project_id)
        found = quotas.network_usages(project_id=project_id)
        return Response(
            {
                "quota": {
                    name: {"limit": usage.limit, "used": usage.in_use, "reserved": 0}
                    for name, usage in found.items()
                }
            }
        )


class QuotaDefaultView(QuotaView):
    http_method_names = ["get", "head", "options"]

    def get(self, request, project_id: str):
        self._check(project_id)
        return Response({"quota": quotas.network_defaults()})
