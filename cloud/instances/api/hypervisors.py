"""Compute API: os-hypervisors (list, detail, show with usage and, from 2.53, servers).

Usage comes from the placement allocations and live instance rows, the same
numbers the scheduler decides on. The usage fields are gone from 2.88 on, as
in Nova (clients read placement instead). Beyond Nova, the detail lists the host's
`unknown_domains`: guests its hypervisor has that are no instance (see
cloud.conductor.power_sync).
"""

from rest_framework.response import Response

from cloud.api.errors import BadRequest, NotFound
from cloud.api.pagination import next_link, paginate
from cloud.api.parsing import InvalidValue, parse_int, to_uuid
from cloud.hosts.api.presenters import hypervisor_detail, hypervisor_summary, node_id
from cloud.hosts.selectors import node_get, nodes_list
from cloud.identity.views import ComputeView
from cloud.instances.selectors import instance_counts_by_host, instances_on_host
from cloud.placement.selectors import usage_by_provider


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes", "on")


class _Hypervisors(ComputeView):
    def nodes(self, request):
        pattern = request.GET.get("hypervisor_hostname_pattern")
        if pattern and not self.version.at_least("2.53"):
            raise BadRequest("hypervisor_hostname_pattern needs microversion 2.53.")
        marker = request.GET.get("marker")
        after = self.lookup(marker).id if marker else None
        return nodes_list(hostname_pattern=pattern, after_id=after)

    def lookup(self, hypervisor_id: str):
        if self.version.at_least("2.53"):
            found = node_get(node_uuid=to_uuid(hypervisor_id, name="hypervisor_id"))
        else:
            try:
                node_id = parse_int(hypervisor_id, name="hypervisor_id", minimum=0)
            except InvalidValue:
                node_id = None
            found = node_get(node_id=node_id) if node_id is not None else None
        if found is None:
            raise NotFound(f"Hypervisor with ID {hypervisor_id} could not be found.")
        return found

    def with_servers(self, node, body: dict) -> dict:
        servers = instances_on_host(host=node.host)
        if servers:
            body["servers"] = [{"uuid": uid, "name": name} for uid, name in servers]
        return body

    def listing(self, request, detailed: bool) -> Response:
        rows, more = paginate(self.nodes(request), request.GET)
        servers = self.version.at_least("2.53") and _truthy(request.GET.get("with_servers"))
        hosts = [n.host for n in rows]
        used = usage_by_provider(names=hosts) if detailed else {}
        counts = instance_counts_by_host(hosts=hosts) if detailed else {}
        items = []
        for node in rows:
            body = (
                hypervisor_detail(
                    node, self.version, used.get(node.host, {}), counts.get(node.host, {})
                )
                if detailed
                else hypervisor_summary(node, self.version)
            )
            items.append(self.with_servers(node, body) if servers else body)
        reply = {"hypervisors": items}
        if more and self.version.at_least("2.33"):
            reply["hypervisors_links"] = next_link(request, str(node_id(rows[-1], self.version)))
        return Response(reply)


class HypervisorListView(_Hypervisors):
    """GET /os-hypervisors"""

    def get(self, request):
        self.authorize("os_compute_api:os-hypervisors:list")
        return self.listing(request, detailed=False)


class HypervisorDetailListView(_Hypervisors):
    """GET /os-hypervisors/detail"""

    def get(self, request):
        self.authorize("os_compute_api:os-hypervisors:list-detail")
        return self.listing(request, detailed=True)


class HypervisorView(_Hypervisors):
    """GET /os-hypervisors/{id}"""

    def get(self, request, hypervisor_id: str):
        self.authorize("os_compute_api:os-hypervisors:show")
        node = self.lookup(hypervisor_id)
        body = hypervisor_detail(
            node,
            self.version,
            usage_by_provider(names=[node.host])[node.host],
            instance_counts_by_host(hosts=[node.host]).get(node.host, {}),
        )
        if self.version.at_least("2.53") and _truthy(request.GET.get("with_servers")):
            body = self.with_servers(node, body)
        return Response({"hypervisor": body})
