"""Compute API: servers (create, list, list detail, show, delete, diagnostics)."""

import functools

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from cloud.api.errors import BadRequest, flatten_detail
from cloud.api.pagination import next_link, paginate
from cloud.api.schema import enveloped
from cloud.api.views import base_url
from cloud.hosts.selectors import host_up
from cloud.identity.views import ComputeView
from cloud.instances import host_reads, selectors, services
from cloud.instances.api.presenters import sees_extended_attributes, server_detail, server_summary
from cloud.instances.api.scheduling import placement_requested
from cloud.instances.api.serializers import ServerCreateSerializer
from cloud.instances.states import VmState
from cloud.instances.volume_attach import servers_volumes
from cloud.network.selectors import instance_ports
from cloud.scheduler.selectors import server_groups_of


def _body(request, key: str) -> dict:
    data = request.data
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise BadRequest(f"The request body must be a JSON object with a '{key}' object.")
    return data[key]


def _target(instance) -> dict:
    return {"project_id": instance.project_id, "user_id": instance.user_id}


def requested_security_groups(networks, attrs: dict) -> list[dict[str, str]]:
    """A create's `security_groups`: the names asked for (else `default`), once each; none
    for a server without networks."""
    if networks == "none":
        return []
    names = [str(g.get("name", "")) for g in attrs.get("security_groups", [])] or ["default"]
    return [{"name": name} for name in dict.fromkeys(names)]


class ServerListView(ComputeView):
    """GET /servers, POST /servers"""

    detail = False

    def get(self, request):
        kind = "detail" if self.detail else "index"
        self.authorize(f"os_compute_api:servers:{kind}")
        all_tenants = selectors.asks_all_tenants(request.GET)
        if all_tenants:
            self.authorize(f"os_compute_api:servers:{kind}:get_all_tenants")
        qs = selectors.instance_list(
            context=self.context, params=request.GET, all_tenants=all_tenants
        )
        rows, more = paginate(qs, request.GET)
        base = base_url(request)
        if self.detail:
            faults = selectors.latest_faults(
                instance_uuids=[i.uuid for i in rows if i.vm_state == VmState.ERROR]
            )
            uuids = [str(i.uuid) for i in rows]
            ports = instance_ports(instance_uuids=uuids)
            volumes = servers_volumes(instance_uuids=uuids)
            extended = functools.cache(functools.partial(sees_extended_attributes, self.context))
            servers = [
                server_detail(
                    i,
                    base,
                    self.version,
                    self.context,
                    faults.get(uuid),
                    ports=ports[uuid],
                    volumes=volumes[uuid],
                    extended=extended(i.project_id, i.user_id),
                )
                for uuid, i in zip(uuids, rows, strict=True)
            ]
        else:
            servers = [server_summary(i, base) for i in rows]
        body = {"servers": servers}
        if more:
            body["servers_links"] = next_link(request, str(rows[-1].uuid))
        return Response(body)

    @extend_schema(
        request=enveloped(
            "server",
            ServerCreateSerializer,
            **{"os:scheduler_hints": serializers.DictField(required=False)},
        ),
        responses={202: dict},
    )
    def post(self, request):
        self.authorize("os_compute_api:servers:create")
        serializer = ServerCreateSerializer(data=_body(request, "server"))
        if not serializer.is_valid():
            raise BadRequest(f"Invalid input for server: {flatten_detail(serializer.errors)}")
        attrs = serializer.validated_data
        placement = placement_requested(zone=attrs.get("availability_zone"), data=request.data)
        if placement.forces_host:
            self.authorize("os_compute_api:servers:create:forced_host")
        instances = services.server_boot(
            context=self.context,
            request_id=request.request_id,
            boot=services.ServerBoot(
                name=attrs["name"],
                flavor_ref=attrs["flavorRef"],
                image_ref=attrs.get("imageRef"),
                block_device_mapping=attrs.get("block_device_mapping_v2", []),
                networks=attrs.get("networks", "none"),
                security_groups=[str(g.get("name", "")) for g in attrs.get("security_groups", [])],
                key_name=attrs.get("key_name"),
                availability_zone=placement.availability_zone,
                host=placement.host,
                node=placement.node,
                group_id=placement.group_id,
                hints=placement.hints,
                min_count=attrs["min_count"],
                max_count=attrs["max_count"],
                metadata=attrs["metadata"],
                description=attrs.get("description"),
                user_data=attrs.get("user_data"),
                access_ip_v4=attrs.get("accessIPv4"),
                access_ip_v6=attrs.get("accessIPv6"),
                config_drive=attrs["config_drive"],
            ),
        )
        if request.data.get("server", {}).get("return_reservation_id"):
            return Response(
                {"reservation_id": instances[0].reservation_id}, status=status.HTTP_202_ACCEPTED
            )
        # The create has committed: the answer reads nothing more from the database (a
        # database gone now must not turn a made server into a 503 the client retries).
        # Its security groups are the requested ones, as Nova answers a create.
        server = server_summary(instances[0], base_url(request))
        groups = requested_security_groups(attrs.get("networks", "none"), attrs)
        server.update({"OS-DCF:diskConfig": "MANUAL", "security_groups": groups})
        return Response({"server": server}, status=status.HTTP_202_ACCEPTED)


class ServerDetailListView(ServerListView):
    """GET /servers/detail"""

    detail = True
    http_method_names = ["get", "head", "options"]


class ServerView(ComputeView):
    """GET /servers/{id}, DELETE /servers/{id}"""

    def get(self, request, server_id: str):
        instance = selectors.instance_get(server_id=server_id, context=self.context)
        self.authorize("os_compute_api:servers:show", _target(instance))
        faults = selectors.latest_faults(instance_uuids=[instance.uuid])
        host_status = None
        if self.context.is_admin and instance.host:
            host_status = "UP" if host_up(host=instance.host) else "DOWN"
        body = server_detail(
            instance,
            base_url(request),
            self.version,
            self.context,
            faults.get(str(instance.uuid)),
            host_status,
            server_groups=server_groups_of(instance_uuid=str(instance.uuid)),
            ports=instance_ports(instance_uuids=[str(instance.uuid)])[str(instance.uuid)],
            volumes=servers_volumes(instance_uuids=[str(instance.uuid)])[str(instance.uuid)],
        )
        return Response({"server": body})

    def delete(self, request, server_id: str):
        instance = selectors.instance_get(server_id=server_id, context=self.context)
        self.authorize("os_compute_api:servers:delete", _target(instance))
        services.server_delete(
            context=self.context, request_id=request.request_id, instance=instance
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ServerDiagnosticsView(ComputeView):
    """GET /servers/{id}/diagnostics (admin): asks the hypervisor itself."""

    def get(self, request, server_id: str):
        instance = selectors.instance_get(server_id=server_id, context=self.context)
        self.authorize("os_compute_api:os-server-diagnostics", _target(instance))
        diagnostics = host_reads.server_diagnostics(instance=instance)
        if not self.version.at_least("2.48"):
            return Response(
                {
                    "cpu0_time": diagnostics["cpu_details"][0]["time"],
                    "memory": diagnostics["memory_details"]["maximum"] * 1024,
                }
            )
        return Response(diagnostics)
