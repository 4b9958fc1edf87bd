"""Linux network devices and namespaces, through iproute2 (and ethtool, sysctl files).

Each helper leaves the device in the state asked for whether or not it was already
there, so that a task delivered twice, or a re-sync, changes nothing the second time.
"""

import json
from pathlib import Path

from cloud.netagent.shell import run


def netns_exists(name: str) -> bool:
    return Path("/run/netns", name).exists()


def netns_ensure(name: str) -> None:
    if not netns_exists(name):
        run(["ip", "netns", "add", name])
    run(["ip", "link", "set", "lo", "up"], netns=name)


def netns_delete(name: str) -> None:
    if netns_exists(name):
        run(["ip", "netns", "delete", name], check=False)


def netns_list(prefix: str) -> list[str]:
    root = Path("/run/netns")
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.name.startswith(prefix))


def link_exists(name: str, netns: str | None = None) -> bool:
    if netns is None:
        return Path("/sys/class/net", name).exists()
    return bool(run(["ip", "-o", "link", "show", "dev", name], netns=netns, check=False))


def link_show(name: str, netns: str | None = None) -> dict | None:
    out = run(["ip", "-j", "-d", "link", "show", "dev", name], netns=netns, check=False)
    return json.loads(out)[0] if out else None


def link_up(name: str, netns: str | None = None) -> None:
    run(["ip", "link", "set", "dev", name, "up"], netns=netns)


def link_delete(name: str, netns: str | None = None) -> None:
    if link_exists(name, netns):
        run(["ip", "link", "delete", "dev", name], netns=netns, check=False)


def veth_ensure(name: str, peer: str, peer_netns: str | None = None) -> None:
    """A veth pair `name` (here) -- `peer` (in `peer_netns` when given), both up.

    The peer's transmit checksum offload is turned off: the userspace datapath reads
    frames from the other end with a packet socket, and a frame whose checksum was left
    to "the hardware" would leave the switch with a wrong one (TCP and UDP then fail)."""
    if link_exists(name) and not link_exists(peer, peer_netns):
        link_delete(name)
    if not link_exists(name):
        argv = ["ip", "link", "add", name, "type", "veth", "peer", "name", peer]
        if peer_netns:
            argv += ["netns", peer_netns]
        run(argv)
    run(["ethtool", "-K", peer, "tx", "off"], netns=peer_netns, check=False)
    run(["ethtool", "-K", name, "tx", "off"], check=False)
    link_up(name)
    link_up(peer, peer_netns)


def bridge_ensure(name: str) -> None:
    """A Linux bridge, up, forwarding at once (no STP listening delay)."""
    if not link_exists(name):
        run(["ip", "link", "add", name, "type", "bridge", "stp_state", "0", "forward_delay", "0"])
    link_up(name)


def master_of(device: str) -> str | None:
    """The bridge `device` is a port of (this namespace's), if any."""
    path = Path("/sys/class/net", device, "master")
    return path.resolve().name if path.exists() else None


def set_master(device: str, bridge: str) -> None:
    run(["ip", "link", "set", "dev", device, "master", bridge])
    link_up(device)


def address_ensure(device: str, cidr: str, netns: str | None = None) -> None:
    """`cidr` (e.g. 10.0.0.2/24) on `device`; "replace" is idempotent."""
    run(["ip", "addr", "replace", cidr, "dev", device], netns=netns)


def addresses(device: str, netns: str | None = None) -> list[str]:
    out = run(["ip", "-j", "-4", "addr", "show", "dev", device], netns=netns, check=False)
    if not out:
        return []
    return [f"{a['local']}/{a['prefixlen']}" for dev in json.loads(out) for a in dev["addr_info"]]


def address_delete(device: str, cidr: str, netns: str | None = None) -> None:
    run(["ip", "addr", "del", cidr, "dev", device], netns=netns, check=False)


def set_mac(device: str, mac: str, netns: str | None = None) -> None:
    run(["ip", "link", "set", "dev", device, "address", mac], netns=netns)


def default_route_ensure(gateway: str, netns: str) -> None:
    run(["ip", "route", "replace", "default", "via", gateway], netns=netns)


def sysctl_set(key: str, value: str, netns: str | None = None) -> None:
    """Write /proc/sys/<key> (dots for slashes), in `netns` when given."""
    path = "/proc/sys/" + key.replace(".", "/")
    if netns is None:
        Path(path).write_text(value)
    else:
        run(["sh", "-c", f"echo {value} > {path}"], netns=netns)
