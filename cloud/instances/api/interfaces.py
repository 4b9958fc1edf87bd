"""Compute API: os-interface (`server add/remove port`, `server add/remove network`):
a server's ports as Nova shows them, attached and detached through the network app.

The port is made (or taken) and bound to the server's host, whose network agent wires
it, and the host plugs it into the guest (cloud/instances/interfaces.py).
"""

from rest_framework import status
from rest_framework.response import Response

from cloud.api.errors import BadRequest, Conflict
from cloud.api.schema import body
from cloud.identity.views import ComputeView
from cloud.instances import interfaces, selectors
from cloud.instances.api import body_schemas as schemas
from cloud.instances.states import VmState
from cloud.network import servers as network
from cloud.network.selectors import instance_ports

RULE = "os_compute_api:os-attach-interfaces:%s"
ATTACHABLE = {VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED}


def _target(instance) -> dict:
    return {"project_id": instance.project_id, "user_id": instance.user_id}


def interface_body(port, version) -> dict:
    body = {
        "port_state": port.status,
        "fixed_ips": [
            {"subnet_id": str(f.subnet_id), "ip_address": f.ip_address}
            for f in port.fixed_ips.all()
        ],
        "port_id": str(port.id),
        "net_id": str(port.network_id),
        "mac_addr": port.mac_address,
    }
    if version.at_least("2.70"):
        body["tag"] = None
    return body


class InterfaceListView(ComputeView):
    """GET, POST /servers/{id}/os-interface"""

    def get(self, request, server_id: str):
        instance = selectors.instance_get(server_id=server_id, context=self.context)
        self.authorize(RULE % "list", _target(instance))
        ports = instance_ports(instance_uuids=[str(instance.uuid)])[str(instance.uuid)]
        return Response({"interfaceAttachments": [interface_body(p, self.version) for p in ports]})

    @body(schemas.INTERFACE_ATTACH)
    def post(self, request, server_id: str):
        instance = selectors.instance_get(server_id=server_id, context=self.context)
        self.authorize(RULE % "create", _target(instance))
        data = request.data.get("interfaceAttachment") if isinstance(request.data, dict) else None
        if not isinstance(data, dict):
            raise BadRequest("Invalid input: an 'interfaceAttachment' object is required.")
        unknown = set(data) - {"net_id", "port_id", "fixed_ips", "tag"}
        if unknown:
            raise BadRequest(
                f"Additional properties are not allowed ({', '.join(sorted(unknown))})"
            )
        if data.get("net_id") and data.get("port_id"):
            raise BadRequest("Must not input both network_id and port_id")
        fixed = data.get("fixed_ips") or []
        if not isinstance(fixed, list) or len(fixed) > 1:
            raise BadRequest("Invalid input for field/attribute fixed_ips: at most one.")
        if instance.vm_state not in ATTACHABLE or instance.task_state:
            raise Conflict(
                f"Cannot 'attach_interface' instance {instance.uuid} while it is in vm_state "
                f"{instance.vm_state}"
            )
        port = interfaces.server_interface_attach(
            context=self.context,
            instance=instance,
            network_id=data.get("net_id"),
            port_id=data.get("port_id"),
            fixed_ip=fixed[0].get("ip_address") if fixed and isinstance(fixed[0], dict) else None,
        )
        return Response({"interfaceAttachment": interface_body(port, self.version)})


class InterfaceView(ComputeView):
    """GET, DELETE /servers/{id}/os-interface/{port_id}"""

    def get(self, request, server_id: str, port_id: str):
        instance = selectors.instance_get(server_id=server_id, context=self.context)
        self.authorize(RULE % "show", _target(instance))
        port = network.server_interface_get(instance_uuid=str(instance.uuid), port_id=port_id)
        return Response({"interfaceAttachment": interface_body(port, self.version)})

    def delete(self, request, server_id: str, port_id: str):
        instance = selectors.instance_get(server_id=server_id, context=self.context)
        self.authorize(RULE % "delete", _target(instance))
        if instance.task_state:
            raise Conflict(
                f"Cannot 'detach_interface' instance {instance.uuid} while it is in task_state "
                f"{instance.task_state}"
            )
        interfaces.server_interface_detach(context=self.context, instance=instance, port_id=port_id)
        return Response(status=status.HTTP_202_ACCEPTED)
