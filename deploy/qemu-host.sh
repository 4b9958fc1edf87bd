#!/usr/bin/env bash
# Make this machine a QEMU hypervisor host for `qemu:///system`: install libvirt
# and QEMU from apt, configure them, start the daemons, wait until libvirt answers.
#   deploy/qemu-host.sh            set up (idempotent; seconds when already done)
#   deploy/qemu-host.sh --check    only say whether qemu:///system answers (exit 0/1)
#
# Written for machines without systemd (containers, CI runners): the daemons are
# started directly. Facts that shaped it: Debian bookworm ships only the
# monolithic libvirtd; libvirtd will not start until the `libvirt-qemu` user
# and the `kvm` group exist; guests run as root without cgroups (libvirt's
# cgroup setup fails in a container, and with cgroups guests die when libvirtd
# restarts); QEMU's console logs go through virtlogd. Guests use TCG (domain
# type `qemu`), never KVM: /dev/kvm may exist where it cannot run guests.
set -euo pipefail

URI="qemu:///system"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

answers() { timeout 10 virsh -c "$URI" uri >/dev/null 2>&1; }

if [ "${1:-}" = "--check" ]; then
    command -v virsh >/dev/null 2>&1 && answers
    exit
fi

packages=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "qemu-host: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# libvirtd resolves its built-in defaults (user and group libvirt-qemu, group kvm)
# before it reads qemu.conf, so they must exist even though guests run as root.
getent group kvm >/dev/null || $SUDO groupadd --system kvm
getent group libvirt-qemu >/dev/null || $SUDO groupadd --system libvirt-qemu
id libvirt-qemu >/dev/null 2>&1 || $SUDO useradd --system --gid libvirt-qemu --groups kvm \
    --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin libvirt-qemu

# Our settings go in one marked block at the end of qemu.conf (the last
# assignment wins in libvirt's config parser); rewritten only when it differs.
# Without libvirt-daemon-system (which wants systemd) there is no qemu.conf yet.
conf=/etc/libvirt/qemu.conf
[ -f "$conf" ] || $SUDO install -D -m 0600 /dev/null "$conf"
block='# stratus: begin (deploy/qemu-host.sh)
user = "root"
group = "root"
cgroup_controllers = [ ]
# stratus: end'
current="$(sed -n '/^# stratus: begin/,/^# stratus: end/p' "$conf")"
changed=0
if [ "$current" != "$block" ]; then
    $SUDO sed -i '/^# stratus: begin/,/^# stratus: end/d' "$conf"
    printf '%s\n' "$block" | $SUDO tee -a "$conf" >/dev/null
    changed=1
fi

$SUDO mkdir -p /var/log/libvirt/qemu /var/lib/stratus/instances /run/libvirt

pidof virtlogd >/dev/null || $SUDO virtlogd -d
if pidof libvirtd >/dev/null && [ "$changed" = 1 ]; then
    # A running libvirtd read the old qemu.conf; guests survive the restart.
    echo "qemu-host: restarting libvirtd for the new qemu.conf"
    $SUDO kill "$(pidof libvirtd)"
    for _ in $(seq 1 50); do pidof libvirtd >/dev/null || break; sleep 0.1; done
fi
pidof libvirtd >/dev/null || $SUDO libvirtd -d

for _ in $(seq 1 60); do
    answers && break
    sleep 0.5
done
if ! answers; then
    echo "qemu-host: libvirtd does not answer on $URI" >&2
    exit 1
fi
echo "qemu-host: $URI ready ($(virsh -c "$URI" version --daemon 2>/dev/null | grep "Running hypervisor" | cut -d: -f2 | xargs))"
