"""The host's Open vSwitch integration bridge, through ovs-vsctl.

One bridge (`br-int` by default) on the userspace datapath (datapath_type=netdev: the
kernel of these machines has no openvswitch module), in standalone mode (the NORMAL
action: a learning switch that honours VLAN tags). Guests' ports and DHCP ports are
access ports tagged with their network's VLAN; the trunk to the other hosts is a port
without a tag, which carries every VLAN tagged. Every port the agent adds carries
`external_ids:stratus-port` (the Neutron port id, or `dhcp:<network>`), which is how
a re-sync tells the agent's ports from the operator's.
"""

import json
import re
from pathlib import Path
from typing import Any

from cloud.netagent.shell import run
from cloud.netagent.specs import FLAT_TAG

OWNER_KEY = "stratus-port"


def _ovsdb_value(value: Any) -> Any:
    """An OVSDB JSON cell as Python: maps to dicts, empty sets to None."""
    if isinstance(value, list) and value:
        kind = value[0]
        if kind == "map":
            return {k: _ovsdb_value(v) for k, v in value[1]}
        if kind == "set":
            items = [_ovsdb_value(v) for v in value[1]]
            return items or None
        if kind == "uuid":
            return value[1]
    return value


class Switch:
    """One bridge on one Open vSwitch database (`db`, e.g. unix:/run/openvswitch/db.sock)."""

    def __init__(self, db: str, bridge: str = "br-int", timeout: float = 10.0) -> None:
        self.db = db
        self.bridge = bridge
        self.timeout = timeout

    def vsctl(self, *args: str, check: bool = True) -> str:
        argv = ["ovs-vsctl", f"--db={self.db}", f"--timeout={self.timeout:g}", *args]
        return run(argv, check=check, timeout=self.timeout + 5)

    def ofctl(self, *args: str) -> str:
        """ovs-ofctl on the bridge, through its management socket beside the database's."""
        target = self.bridge
        if self.db.startswith("unix:"):
            target = f"unix:{Path(self.db[5:]).parent / self.bridge}.mgmt"
        return run(["ovs-ofctl", args[0], target, *args[1:]], timeout=self.timeout)

    def flows_replace(self, cookie: int, flows: list[str]) -> None:
        """The bridge's flows of `cookie` become `flows` (each without its cookie)."""
        self.ofctl("del-flows", f"cookie={cookie:#x}/-1")
        for flow in flows:
            self.ofctl("add-flow", f"cookie={cookie:#x},{flow}")

    def port_ofport(self, name: str) -> int:
        return int(self.vsctl("get", "interface", name, "ofport").strip())

    def answers(self) -> bool:
        return bool(self.vsctl("show", check=False))

    def bridge_ensure(self) -> None:
        self.vsctl(
            "--may-exist",
            "add-br",
            self.bridge,
            "--",
            "set",
            "bridge",
            self.bridge,
            "datapath_type=netdev",
            "fail_mode=standalone",
        )

    def trunk_ensure(self, interface: str) -> None:
        """`interface` (a host NIC, or the veth to the fabric) as the trunk: every VLAN."""
        self.vsctl(
            "--may-exist",
            "add-port",
            self.bridge,
            interface,
            "--",
            "set",
            "port",
            interface,
            # Tagged frames are their VLAN; untagged ones the flat network's tag.
            "vlan_mode=native-untagged",
            f"tag={FLAT_TAG}",
            "--",
            "set",
            "interface",
            interface,
            f"external_ids:{OWNER_KEY}=trunk",
        )

    def access_port_ensure(self, name: str, tag: int, owner: str, **external_ids: str) -> None:
        """Port `name` (an existing device) on the bridge, access port of VLAN `tag`."""
        ids = {OWNER_KEY: owner, **external_ids}
        self.vsctl(
            "--may-exist",
            "add-port",
            self.bridge,
            name,
            "--",
            "set",
            "port",
            name,
            f"tag={tag}",
            "vlan_mode=access",
            "--",
            "set",
            "interface",
            name,
            *(f"external_ids:{k}={json.dumps(v)}" for k, v in ids.items()),
        )

    def port_delete(self, name: str) -> None:
        self.vsctl("--if-exists", "del-port", self.bridge, name)

    def port_tag(self, name: str) -> int | None:
        out = self.vsctl("get", "port", name, "tag", check=False).strip()
        return int(out) if re.fullmatch(r"[0-9]{1,4}", out) else None

    def owned_ports(self) -> dict[str, str]:
        """The bridge's ports the agent added: port name -> owner (`stratus-port`)."""
        names = set(self.vsctl("list-ports", self.bridge, check=False).split())
        out = self.vsctl("--format=json", "--columns=name,external_ids", "list", "Interface")
        table = json.loads(out)
        owned = {}
        for name, ids in table["data"]:
            owner = (_ovsdb_value(ids) or {}).get(OWNER_KEY)
            if name in names and owner:
                owned[name] = owner
        return owned
