#!/usr/bin/env bash
# Make this machine (or a network namespace standing for a host) a network host for the
# Stratus network agent: install Open vSwitch, dnsmasq, nftables and iproute2 from apt
# when missing, start ovsdb-server and ovs-vswitchd without systemd, wait until the
# switch answers.
#   deploy/ovs-host.sh                          this machine's switch, under /run/openvswitch
#   deploy/ovs-host.sh --rundir DIR --netns NS  a simulated host's own switch: its database,
#                                               socket and logs under DIR, its daemons inside
#                                               the network namespace NS (created if missing)
#   deploy/ovs-host.sh --stop [--rundir DIR]    stop that switch's daemons
#   deploy/ovs-host.sh --check [--rundir DIR]   only say whether that switch answers (exit 0/1)
# Idempotent: seconds when already done.
#
# Facts that shaped it: the kernel of these machines loads no module, so the kernel
# datapath (openvswitch.ko) is absent and every bridge runs OVS's userspace datapath
# (datapath_type=netdev, set by the agent on the bridges it makes); Debian's ovs-ctl
# insists on loading the module, so the daemons are started directly. The userspace
# datapath is ovs-vswitchd itself: a switch in a namespace is a process in it.
set -euo pipefail

rundir=/run/openvswitch
netns=""
mode=start
while [ $# -gt 0 ]; do
    case "$1" in
        --check) mode=check ;;
        --stop) mode=stop ;;
        --rundir) rundir="$2"; shift ;;
        --netns) netns="$2"; shift ;;
        *) echo "ovs-host: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
db="unix:$rundir/db.sock"

answers() { timeout 10 ovs-vsctl --db="$db" --timeout=5 show >/dev/null 2>&1; }
alive() { [ -f "$rundir/$1.pid" ] && $SUDO kill -0 "$(cat "$rundir/$1.pid")" 2>/dev/null; }

if [ "$mode" = check ]; then
    command -v ovs-vsctl >/dev/null 2>&1 && alive ovs-vswitchd && answers
    exit
fi

if [ "$mode" = stop ]; then
    for daemon in ovs-vswitchd ovsdb-server; do
        if alive "$daemon"; then
            pid="$(cat "$rundir/$daemon.pid")"
            $SUDO kill "$pid"
            for _ in $(seq 1 50); do $SUDO kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
    done
    exit 0
fi

# openvswitch-switch brings ovsdb-server, ovs-vswitchd, ovs-vsctl; dnsmasq-base the DHCP
# server the agent runs per network; busybox's udhcpc is the guests' DHCP client in tests.
# ethtool: the agent turns off checksum offload on the veths the userspace datapath reads.
packages=(openvswitch-switch dnsmasq-base nftables iproute2 ethtool busybox)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "ovs-host: installing ${missing[*]}"
    $SUDO apt-get update -qq
    # policy-rc.d: the package's maintainer scripts must not try to start the daemons
    # (no systemd here); they are started below.
    DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $SUDO apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
fi

# OVS_RUNDIR: where ovs-vswitchd makes each bridge's management socket (<bridge>.mgmt,
# which ovs-ofctl talks to): per switch, or two hosts' br-int would share one.
in_ns=(env OVS_RUNDIR="$rundir" OVS_LOGDIR="$rundir")
if [ -n "$netns" ]; then
    [ -e "/run/netns/$netns" ] || $SUDO ip netns add "$netns"
    $SUDO ip netns exec "$netns" ip link set lo up
    in_ns=(ip netns exec "$netns" "${in_ns[@]}")
fi

$SUDO mkdir -p "$rundir"
conf="$rundir/conf.db"
[ "$rundir" = /run/openvswitch ] && conf=/etc/openvswitch/conf.db
if [ ! -f "$conf" ]; then
    $SUDO mkdir -p "$(dirname "$conf")"
    $SUDO ovsdb-tool create "$conf" /usr/share/openvswitch/vswitch.ovsschema
fi

if ! alive ovsdb-server; then
    $SUDO "${in_ns[@]}" ovsdb-server "$conf" --remote="punix:$rundir/db.sock" \
        --remote=db:Open_vSwitch,Open_vSwitch,manager_options \
        --pidfile="$rundir/ovsdb-server.pid" --unixctl="$rundir/ovsdb-server.ctl" \
        --log-file="$rundir/ovsdb-server.log" -vconsole:off --detach
fi
for _ in $(seq 1 50); do
    [ -S "$rundir/db.sock" ] && break
    sleep 0.1
done
$SUDO ovs-vsctl --db="$db" --no-wait --timeout=10 init

if ! alive ovs-vswitchd; then
    $SUDO "${in_ns[@]}" ovs-vswitchd "$db" --pidfile="$rundir/ovs-vswitchd.pid" \
        --unixctl="$rundir/ovs-vswitchd.ctl" --log-file="$rundir/ovs-vswitchd.log" -vconsole:off --detach
fi

for _ in $(seq 1 60); do
    answers && break
    sleep 0.5
done
if ! answers; then
    echo "ovs-host: the switch does not answer on $db" >&2
    exit 1
fi
echo "ovs-host: Open vSwitch $(ovs-vswitchd --version | head -1 | awk '{print $NF}') ready on $db${netns:+ in namespace $netns}"
