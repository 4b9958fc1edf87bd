"""What the network services tell the controller and the agents, after the commit
(cloud.rpc publishes on commit): kept apart so the services read as their writes."""

from cloud import rpc
from cloud.messaging import (
    AGENT_PORT_UNBIND,
    NETWORK_SYNC_FLOATING_IP,
    NETWORK_SYNC_NETWORK,
    NETWORK_SYNC_PORT,
    NETWORK_SYNC_SECURITY_GROUP,
)
from cloud.network.models import Port
from cloud.payloads import NetworkSync, PortUnbinding


def devname(port_id: str) -> str:
    """The guest's tap device for a port, Neutron's name: "tap" + the id's first 11."""
    return f"tap{str(port_id)[:11]}"


def port_changed(port: Port) -> None:
    rpc.cast_network(
        NETWORK_SYNC_PORT,
        NetworkSync(resource_id=str(port.id), network_id=str(port.network_id)),
    )


def port_unbound(port: Port, host: str) -> None:
    """The port left `host` (unbound, or deleted): the agent unplugs it, the controller
    refreshes the network's DHCP entries and what the host still needs."""
    if not host:
        return
    rpc.cast_network_agent(
        host,
        AGENT_PORT_UNBIND,
        PortUnbinding(
            port_id=str(port.id),
            network_id=str(port.network_id),
            host=host,
            devname=devname(port.id),
            mac_address=port.mac_address,
        ),
    )
    network_changed(str(port.network_id), hosts=[host])


def network_changed(network_id: str, *, hosts: list[str] | None = None) -> None:
    """The controller re-sends the network's state to every host with ports on it (and
    tears it down on `hosts`). With neither there is no one to tell, so nothing is sent:
    a new network (`manage.py seed_networks` on a stack whose broker is not up yet)
    reaches the hosts with its first bound port."""
    if (
        not hosts
        and not Port.objects.filter(network_id=network_id).exclude(binding_host="").exists()
    ):
        return
    rpc.cast_network(
        NETWORK_SYNC_NETWORK,
        NetworkSync(resource_id=network_id, network_id=network_id, hosts=sorted(set(hosts or []))),
    )


def security_group_changed(group_id: str) -> None:
    rpc.cast_network(NETWORK_SYNC_SECURITY_GROUP, NetworkSync(resource_id=group_id))


def floating_ip_changed(floating_ip_id: str, *, hosts: list[str] | None = None) -> None:
    rpc.cast_network(
        NETWORK_SYNC_FLOATING_IP,
        NetworkSync(resource_id=floating_ip_id, hosts=sorted(set(hosts or []))),
    )
