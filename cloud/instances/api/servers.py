"""Compute API: servers (create, list, list detail, show, delete, diagnostics)."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from cloud.api.errors import (
    BadRequest,
    Conflict,
    GatewayTimeout,
    NotFound,
    flatten_detail,
)
from cloud.api.pagination import next_link, paginate
from cloud.api.views import base_url
from cloud.hosts.models import ComputeNode
from cloud.hosts.selectors import host_is_up
from cloud.identity import keypairs
from cloud.identity.views import ComputeView
from cloud.images.models import ImageStatus
from cloud.images.selectors import image_get
from cloud.instances import selectors, services
from cloud.instances.api.presenters import server_detail, server_summary
from cloud.instances.api.scheduling import placement_requested
from cloud.instances.api.serializers import ServerCreateSerializer
from cloud.instances.models import Flavor
from cloud.instances.states import VmState
from cloud.rpc import HostUnreachable, call_compute
from cloud.scheduler.selectors import server_groups_of


def _body(request, key: str) -> dict:
    data = request.data
    if not isinstance(data, dict) or not isinstance(data.get(key), dict):
        raise BadRequest(f"The request body must be a JSON object with a '{key}' object.")
    return data[key]


def _validate_boot_source(attrs: dict) -> str:
    image_ref = attrs.get("imageRef")
    for bdm in attrs.get("block_device_mapping_v2", []):
        is_image_root = (
            bdm.get("source_type") == "image"
            and bdm.get("destination_type", "local") == "local"
            and str(bdm.get("boot_index")) == "0"
        )
        if not is_image_root:
            raise BadRequest(
                "Only a local root disk from an image is supported in "
                "block_device_mapping_v2; volumes are not available yet."
            )
        image_ref = image_ref or bdm.get("uuid")
        if bdm.get("uuid") and bdm["uuid"] != image_ref:
            raise BadRequest("block_device_mapping_v2 names a different image than imageRef.")
    if not image_ref:
        raise BadRequest("imageRef is required: boot from volume is not available yet.")
    return image_ref


def _target(instance) -> dict:
    return {"project_id": instance.project_id, "user_id": instance.user_id}


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
            servers = [
                server_detail(i, base, self.version, self.context, faults.get(str(i.uuid)))
                for i in rows
            ]
        else:
            servers = [server_summary(i, base) for i in rows]
        body = {"servers": servers}
        if more:
            body["servers_links"] = next_link(request, str(rows[-1].uuid))
        return Response(body)

    @extend_schema(request=ServerCreateSerializer, responses={202: dict})
    def post(self, request):
        self.authorize("os_compute_api:servers:create")
        serializer = ServerCreateSerializer(data=_body(request, "server"))
        if not serializer.is_valid():
            raise BadRequest(f"Invalid input for server: {flatten_detail(serializer.errors)}")
        attrs = serializer.validated_data
        image_ref = _validate_boot_source(attrs)
        image = image_get(image_id=image_ref, context=self.context)
        if image is None:
            raise BadRequest(f"Can not find requested image {image_ref}")
        if image.status != ImageStatus.ACTIVE:
            raise BadRequest(f"Image {image_ref} is not active (status {image.status}).")
        flavor = Flavor.objects.filter(flavorid=attrs["flavorRef"], disabled=False).first()
        if flavor is None or (not flavor.is_public and not self.context.is_admin):
            raise BadRequest(f"Flavor {attrs['flavorRef']} could not be found.")
        if image.min_ram > flavor.memory_mb:
            raise BadRequest(
                f"Flavor's memory is too small for requested image "
                f"({flavor.memory_mb} MB < {image.min_ram} MB)."
            )
        if flavor.root_gb and image.min_disk > flavor.root_gb:
            raise BadRequest(
                f"Flavor's disk is too small for requested image "
                f"({flavor.root_gb} GB < {image.min_disk} GB)."
            )
        networks = attrs.get("networks", "none")
        if isinstance(networks, list) and networks:
            ids = ", ".join(str(n.get("uuid") or n.get("port")) for n in networks)
            raise BadRequest(f"Network {ids} could not be found.")
        placement = placement_requested(
            context=self.context, zone=attrs.get("availability_zone"), data=request.data
        )
        key_name = attrs.get("key_name")
        key_data = None
        if key_name is not None:
            try:
                keypair = keypairs.keypair_get(user_id=self.context.user_id, name=key_name)
            except keypairs.KeypairNotFound:
                raise BadRequest("Invalid key_name provided.") from None
            key_data = keypair.public_key
        instances = services.server_create(
            context=self.context,
            request_id=request.request_id,
            spec=services.ServerCreate(
                name=attrs["name"],
                flavor=flavor,
                image=image,
                min_count=attrs["min_count"],
                max_count=attrs["max_count"],
                metadata=attrs["metadata"],
                description=attrs.get("description"),
                availability_zone=placement.availability_zone,
                forced_host=placement.forced_host,
                group=placement.group,
                hints=placement.hints,
                user_data=attrs.get("user_data"),
                access_ip_v4=attrs.get("accessIPv4"),
                access_ip_v6=attrs.get("accessIPv6"),
                config_drive=attrs["config_drive"],
                key_name=key_name,
                key_data=key_data,
            ),
        )
        if request.data.get("server", {}).get("return_reservation_id"):
            return Response(
                {"reservation_id": instances[0].reservation_id}, status=status.HTTP_202_ACCEPTED
            )
        server = server_summary(instances[0], base_url(request))
        server.update({"OS-DCF:diskConfig": "MANUAL", "security_groups": []})
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
            node = ComputeNode.objects.filter(host=instance.host).first()
            host_status = "UP" if node and host_is_up(node) else "DOWN"
        body = server_detail(
            instance,
            base_url(request),
            self.version,
            self.context,
            faults.get(str(instance.uuid)),
            host_status,
            server_groups=server_groups_of(instance_uuid=str(instance.uuid)),
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
        if not instance.host or instance.vm_state == VmState.BUILDING:
            raise Conflict(
                f"Cannot 'get_diagnostics' instance {instance.uuid} while it is "
                f"in vm_state {instance.vm_state}"
            )
        try:
            diagnostics = call_compute(
                instance.host,
                "compute.get_diagnostics",
                str(instance.uuid),
                timeout=settings.SYNC_CALL_TIMEOUT,
            )
        except HostUnreachable as exc:
            raise GatewayTimeout(str(exc)) from exc
        if diagnostics is None:
            raise NotFound(f"Instance {instance.uuid} is not on host {instance.host}.")
        if not self.version.at_least("2.48"):
            return Response(
                {
                    "cpu0_time": diagnostics["cpu_details"][0]["time"],
                    "memory": diagnostics["memory_details"]["maximum"] * 1024,
                }
            )
        return Response(diagnostics)
