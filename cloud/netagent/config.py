"""Network agent configuration, from the environment only (no Django settings)."""

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cloud.messaging import load_env_file
from cloud.payloads import PAYLOAD_VERSION, version_pin


@dataclass(frozen=True)
class AgentConfig:
    # The compute host this agent configures: its queue is `network.<host>`.
    host: str
    # The host's Open vSwitch database (ovs-vsctl --db).
    ovsdb: str = "unix:/run/openvswitch/db.sock"
    integration_bridge: str = "br-int"
    # The interface to the other hosts (a NIC, or the veth to a simulated fabric),
    # added to br-int as a trunk of every VLAN; empty: a host on its own.
    trunk_interface: str = ""
    # Where the agent keeps what it set up (re-synced at start) and dnsmasq's files.
    state_path: Path = Path("/var/lib/stratus/network")
    # Prefix of the namespaces it makes (qdhcp-…, qrouter-…): empty on a real host;
    # simulated hosts sharing one machine (and its /run/netns) each take their own.
    netns_prefix: str = ""
    payload_version: str = PAYLOAD_VERSION

    @classmethod
    def from_env(cls) -> "AgentConfig":
        load_env_file()
        return cls(
            host=os.environ.get("NETWORK_AGENT_HOST")
            or os.environ.get("COMPUTE_HOST")
            or socket.gethostname(),
            ovsdb=os.environ.get("OVS_DB", "unix:/run/openvswitch/db.sock"),
            integration_bridge=os.environ.get("NETWORK_INTEGRATION_BRIDGE", "br-int"),
            trunk_interface=os.environ.get("NETWORK_TRUNK_INTERFACE", ""),
            state_path=Path(os.environ.get("NETWORK_AGENT_STATE_PATH", "/var/lib/stratus/network")),
            netns_prefix=os.environ.get("NETWORK_NAMESPACE_PREFIX", ""),
            payload_version=version_pin(
                os.environ.get("NETWORK_AGENT_PAYLOAD_VERSION", ""),
                "NETWORK_AGENT_PAYLOAD_VERSION",
            ),
        )
