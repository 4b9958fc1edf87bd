"""Power states: what the hypervisor says a guest is doing, in Nova's numbering.

The one definition (Nova's `power_state.py`), shared by the control plane (the
`power_state` column, the API's `OS-EXT-STS:power_state`) and the compute side
(its drivers' reports): it imports nothing, so a compute may use it without
Django.
"""


class PowerState:
    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7


# Nova's power_state.STATE_MAP: the names a driver gives them (os-diagnostics `state`).
STATE_NAMES: dict[int, str] = {
    PowerState.NOSTATE: "pending",
    PowerState.RUNNING: "running",
    PowerState.PAUSED: "paused",
    PowerState.SHUTDOWN: "shutdown",
    PowerState.CRASHED: "crashed",
    PowerState.SUSPENDED: "suspended",
}
