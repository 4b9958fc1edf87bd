"""A guest's config drive (Nova's `config_drive`): what the guest is told at boot, on a
read-only iso9660 disk labelled `config-2` that the guest mounts (cloud-init's
ConfigDrive source reads the same layout).

    openstack/latest/meta_data.json     uuid, name, hostname, project_id, meta, ...
    openstack/latest/network_data.json  a link per port (its MAC and MTU) and its
                                        fixed addresses (Nova's static `ipv4`/`ipv6`)
    openstack/latest/user_data          the server's user data, decoded (when it has one)

The image is built with genisoimage and Nova's flags (Rock Ridge and Joliet, so the
long lower-case names survive), beside its place and renamed: a drive that exists is
whole, and a redelivered build keeps it. A move or rebuild on a new host writes it
again there from the payload.
"""

import base64
import binascii
import ipaddress
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from cloud.payloads import InstanceSpec
from cloud.workers.virt.driver import HypervisorError

LABEL = "config-2"
GENISOIMAGE = "genisoimage"


def meta_data(instance: InstanceSpec) -> dict[str, Any]:
    return {
        "uuid": instance.uuid,
        "name": instance.display_name,
        "hostname": instance.hostname,
        "project_id": instance.project_id,
        "launch_index": 0,
        "meta": dict(instance.metadata),
        "devices": [],
    }


def network_data(instance: InstanceSpec) -> dict[str, Any]:
    links, networks = [], []
    for vif in instance.vifs:
        links.append(
            {
                "id": vif.devname,
                "vif_id": vif.port_id,
                "type": "ovs",
                "mtu": vif.mtu,
                "ethernet_mac_address": vif.mac_address,
            }
        )
        for fixed in vif.fixed_ips:
            cidr = fixed.get("cidr")
            if not cidr or not fixed.get("ip_address"):
                continue
            subnet = ipaddress.ip_network(cidr, strict=False)
            gateway = fixed.get("gateway_ip")
            default = "0.0.0.0" if subnet.version == 4 else "::"
            networks.append(
                {
                    "id": f"network{len(networks)}",
                    "type": f"ipv{subnet.version}",
                    "link": vif.devname,
                    "ip_address": fixed["ip_address"],
                    "netmask": str(subnet.netmask),
                    "routes": (
                        [{"network": default, "netmask": default, "gateway": gateway}]
                        if gateway
                        else []
                    ),
                    "network_id": vif.network_id,
                }
            )
    return {"links": links, "networks": networks, "services": []}


def drive_files(instance: InstanceSpec) -> dict[str, bytes]:
    """The drive's files: path on the drive -> contents."""
    files = {
        "openstack/latest/meta_data.json": json.dumps(meta_data(instance)).encode(),
        "openstack/latest/network_data.json": json.dumps(network_data(instance)).encode(),
    }
    if instance.user_data:
        try:
            files["openstack/latest/user_data"] = base64.b64decode(instance.user_data)
        except (binascii.Error, ValueError) as exc:
            raise HypervisorError(f"{instance.name}: its user data is not base64") from exc
    return files


def write_config_drive(path: Path, instance: InstanceSpec) -> None:
    """The guest's config drive at `path` (kept when it is already there)."""
    if path.exists():
        return
    if shutil.which(GENISOIMAGE) is None:
        raise HypervisorError(
            f"cannot build the config drive of {instance.name}: {GENISOIMAGE} is not "
            "installed on this host (deploy/bootstrap.sh installs it)"
        )
    partial = path.with_name(path.name + ".part")
    with tempfile.TemporaryDirectory(prefix="config-drive-", dir=path.parent) as tmp:
        root = Path(tmp)
        for name, data in drive_files(instance).items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        argv = [
            GENISOIMAGE, "-o", str(partial), "-ldots", "-allow-lowercase", "-allow-multidot",
            "-l", "-publisher", "Stratus", "-quiet", "-J", "-r", "-V", LABEL, str(root),
        ]  # fmt: skip
        try:
            subprocess.run(argv, check=True, capture_output=True, text=True, timeout=120)
        except subprocess.CalledProcessError as exc:
            partial.unlink(missing_ok=True)
            raise HypervisorError(f"cannot build the config drive: {exc.stderr.strip()}") from exc
    partial.replace(path)
