#!/usr/bin/env python3
"""Build the tiny guest that real QEMU hosts boot: a kernel and an initramfs, from Debian only.

    python3 deploy/guest_image.py [--out var/guest]

Prints the paths of `vmlinux` (the kernel of Debian's linux-image-amd64,
uncompressed: under TCG, QEMU's software emulation, decompressing a bzImage
takes as long as the rest of the boot) and `initrd.img` (a newc cpio of
busybox-static, a few kernel modules and an init that:

- mounts proc, sys and dev, loads the modules;
- reads a config drive when one is attached (a vfat or iso9660 filesystem
  labelled `config-2`): the hostname from openstack/latest/meta_data.json,
  else the `hostname=` of the kernel command line;
- prints `stratus-guest: root disk marker <text>` when its root disk (vda) is a
  tar archive holding `marker.txt` (the image tests build to prove the guest
  reads the image data it booted from);
- prints `stratus-guest: <hostname> booted (boot <boot id>)` on the serial
  console, the line tests and operators look for (the kernel's random boot id
  tells one boot from the next);
- brings the network up in the background, so that the boot line does not wait
  for it: the loopback, then each ethN (a port's virtio NIC) with busybox
  udhcpc, whose script sets the leased address, the default route, the MTU and
  resolv.conf and prints `stratus-guest: <iface> <address>/<prefix>`; when every
  NIC is leased (or after a minute) it prints `stratus-guest: network up` (a
  guest without a NIC prints neither);
- runs the config drive's user data (openstack/latest/user_data) once the
  network is up, when it starts with `#!` (a script, as cloud-init runs one):
  its output goes to the console, then `stratus-guest: user-data exit <code>`;
- watches for block devices coming and going (volumes hot-plugged by the host):
  for each new virtio disk but the root and the config drive it prints
  `stratus-guest: disk vdX size <bytes>`, then the marker its first sector holds
  (`stratus-guest: disk vdX marker <text>`), or, on a disk without one, writes
  `stratus-marker:<hostname>-<boot id>` there and prints
  `stratus-guest: disk vdX wrote marker <text>` (synced before it is printed); a
  disk unplugged gives `stratus-guest: disk vdX removed`;
- powers off when the ACPI power button is pressed (busybox acpid on the
  button's input device), so libvirt's soft shutdown and reboot work; a shell
  runs on the console for people.

Only `apt-get download` and `dpkg-deb -x` fetch and unpack anything; the
.debs are kept under `<out>/debs`, so a rebuild downloads nothing new. Stdlib
only: it runs before the virtualenv exists.
"""

import argparse
import hashlib
import lzma
import os
import re
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Kernel modules the init loads, in this order; their dependencies are
# resolved from each module's own `depends=` and loaded first.
MODULES = [
    "button",  # the ACPI power button: an input device that acpid reads
    "evdev",  # /dev/input/event*, the interface acpid reads events from
    "virtio_pci",  # a config drive on a virtio disk
    "virtio_blk",
    "ata_piix",  # ... or on an IDE/SATA cdrom (pc or q35 machines)
    "ahci",
    "sr_mod",
    "isofs",  # config drives are iso9660 or vfat
    "vfat",
    "nls_cp437",
    "nls_iso8859-1",
    "nls_ascii",  # vfat's default iocharset in this kernel
    "virtio_net",  # the guest's network interfaces (the ports' virtio NICs)
]

INIT = r"""#!/bin/sh
# The guest's init, as busybox init's sysinit step (see /etc/inittab).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mkdir -p /proc /sys /dev /tmp /mnt/config /var/log /var/run
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for module in $(cat /etc/modules); do
    insmod "/lib/modules/$module.ko" 2>/dev/null
done

arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p" | tail -1; }
name="$(arg hostname)"

# A config drive (Nova's label config-2) may take a moment to appear.
for _ in 1 2 3 4 5 6 7 8 9 10; do
    drive="$(findfs LABEL=config-2 2>/dev/null)" && break
    [ -e /sys/block/sr0 ] || [ -e /sys/block/vdb ] || break
    sleep 0.2
done
if [ -n "$drive" ] && mount -o ro "$drive" /mnt/config 2>/dev/null; then
    meta=/mnt/config/openstack/latest/meta_data.json
    if [ -f "$meta" ]; then
        from_drive="$(sed -n 's/.*"hostname": *"\([^"]*\)".*/\1/p' "$meta" | head -1)"
        [ -n "$from_drive" ] && name="$from_drive"
    fi
    echo "stratus-guest: config drive $drive"
fi
hostname "${name:-stratus-guest}"
# A root disk (vda) that is a tar archive holding marker.txt (the disk tests build)
# has its marker printed: proof the guest reads the image data it booted from. Only
# the disk's head: busybox tar reads on to the end of its input after an archive's
# end, which on a grown root disk is gigabytes of emulated reads.
marker="$(dd if=/dev/vda bs=64k count=1 2>/dev/null | tar -xOf - marker.txt 2>/dev/null \
    | head -1)"
[ -n "$marker" ] && echo "stratus-guest: root disk marker $marker" > /dev/console
boot="$(cat /proc/sys/kernel/random/boot_id)"
echo "stratus-guest: $(hostname) booted (boot $boot)" > /dev/console
# Volumes: every disk but the root and the config drive, as it comes and goes.
/etc/watch-disks "${drive#/dev/}" "$(hostname)-$boot" < /dev/null > /dev/console 2>&1 &
# The network, then the user data: in the background, the boot line above waits for neither.
/etc/network-up < /dev/null > /dev/console 2>&1 &
"""

NETWORK_UP = r"""#!/bin/sh
# The loopback and a DHCP client per NIC, then the config drive's user data.
ip link set lo up
nics=""
for path in /sys/class/net/eth*; do
    [ -e "$path" ] || continue
    nics="$nics ${path##*/}"
    # -f: stays to renew the lease; -t/-T/-A: a discover every second until answered
    # (the host's agent plugs the port when the guest's device appears).
    udhcpc -f -i "${path##*/}" -s /etc/udhcpc/default.script -t 5 -T 1 -A 1 \
        -x hostname:"$(hostname)" > /dev/null 2>&1 &
done
if [ -n "$nics" ]; then
    waited=0  # seconds; the user data runs after a minute without every lease
    while [ "$waited" -lt 60 ]; do
        leased=yes
        for nic in $nics; do [ -e "/var/run/udhcpc.$nic.leased" ] || leased=no; done
        [ "$leased" = yes ] && break
        sleep 1
        waited=$((waited + 1))
    done
    echo "stratus-guest: network up"
fi
data=/mnt/config/openstack/latest/user_data
if [ -f "$data" ] && [ "$(head -c 2 "$data")" = "#!" ]; then
    cp "$data" /tmp/user-data && chmod 700 /tmp/user-data
    /tmp/user-data
    echo "stratus-guest: user-data exit $?"
fi
"""

# busybox udhcpc runs its script with the event ($1) and the lease in the environment.
UDHCPC_SCRIPT = r"""#!/bin/sh
case "$1" in
    deconfig)
        ip addr flush dev "$interface"
        ip link set "$interface" up
        ;;
    bound|renew)
        [ "$1" = bound ] && ip addr flush dev "$interface"
        ip addr replace "$ip/$mask" dev "$interface"
        [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
        for gateway in $router; do
            ip route replace default via "$gateway" dev "$interface"
            break
        done
        [ -n "$dns" ] && for server in $dns; do echo "nameserver $server"; done > /etc/resolv.conf
        if [ "$1" = bound ]; then
            echo "stratus-guest: $interface $ip/$mask" > /dev/console
            touch "/var/run/udhcpc.$interface.leased"
        fi
        ;;
esac
exit 0
"""

WATCH_DISKS = r"""#!/bin/sh
# Usage: watch-disks <config drive device> <marker text>; see deploy/guest_image.py.
skip="$1"; mine="$2"; known=" "
while true; do
    now=" "
    for path in /sys/block/vd*; do
        [ -e "$path" ] || continue
        disk="${path##*/}"
        now="$now$disk "
        case "$known" in *" $disk "*) continue ;; esac
        [ "$disk" = vda ] || [ "$disk" = "$skip" ] && continue
        echo "stratus-guest: disk $disk size $(( $(cat "$path/size") * 512 ))"
        found="$(dd if=/dev/$disk bs=512 count=1 2>/dev/null | tr -d '\000' \
            | sed -n 's/^stratus-marker:\([A-Za-z0-9.-]*\)$/\1/p' | head -1)"
        if [ -n "$found" ]; then
            echo "stratus-guest: disk $disk marker $found"
        else
            echo "stratus-marker:$mine" | dd of=/dev/$disk bs=512 count=1 conv=sync,fsync \
                2>/dev/null && echo "stratus-guest: disk $disk wrote marker $mine"
        fi
    done
    for disk in $known; do
        case "$now" in *" $disk "*) ;; *) echo "stratus-guest: disk $disk removed" ;; esac
    done
    known="$now"
    sleep 0.5
done
"""

INITTAB = """::sysinit:/etc/rc
::respawn:/sbin/acpid -f -c /etc/acpi -l /var/log/acpid.log
ttyS0::respawn:/bin/cttyhack /bin/sh -l
::shutdown:/bin/echo stratus-guest: powering off
"""

# busybox acpid runs <confdir>/<action> for an event; PWRF/00000080 is the power button.
POWER_BUTTON = """#!/bin/sh
poweroff
"""

XZ_MAGIC = b"\xfd7zXZ\x00"


def _run(argv: list[str], cwd: Path | None = None) -> str:
    return subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True).stdout


def kernel_package() -> str:
    """The versioned package behind the linux-image-amd64 metapackage."""
    out = _run(["apt-cache", "depends", "linux-image-amd64"])
    match = re.search(r"Depends: (linux-image-\S+)", out)
    if not match:
        raise SystemExit("guest-image: apt knows no linux-image-amd64 (run apt-get update)")
    return match.group(1)


def download(package: str, debs: Path) -> Path:
    """The package's .deb under debs/, fetched with apt-get download unless already there."""
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        try:
            _run(["apt-get", "download", package], cwd=debs)
        except subprocess.CalledProcessError:
            _run(["apt-get", "update", "-qq"])
            _run(["apt-get", "download", package], cwd=debs)
        found = sorted(debs.glob(f"{package}_*.deb"))
    return found[-1]


def extract_vmlinux(bzimage: bytes) -> bytes:
    """The ELF kernel inside a bzImage (what the kernel's scripts/extract-vmlinux does):
    try each XZ stream in the file until one decompresses to an ELF image."""
    start = bzimage.find(XZ_MAGIC)
    while start >= 0:
        try:
            data = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(bzimage[start:])
        except lzma.LZMAError:
            data = b""
        if data[:4] == b"\x7fELF":
            return data
        start = bzimage.find(XZ_MAGIC, start + 1)
    raise SystemExit("guest-image: no XZ-compressed ELF kernel found in the bzImage")


def _module_files(modules_dir: Path) -> dict[str, Path]:
    files = {}
    for path in modules_dir.rglob("*.ko"):
        files[path.stem.replace("-", "_")] = path
    return files


def _depends(path: Path) -> list[str]:
    match = re.search(rb"\x00depends=([^\x00]*)\x00", path.read_bytes())
    return [d for d in match.group(1).decode().split(",") if d] if match else []


def module_order(modules_dir: Path, wanted: list[str]) -> list[Path]:
    """The wanted modules and everything they depend on, dependencies first."""
    files = _module_files(modules_dir)
    ordered: list[Path] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        name = name.replace("-", "_")
        if name in seen:
            return
        seen.add(name)
        if name not in files:
            raise SystemExit(f"guest-image: kernel module {name} not in the package")
        for dep in _depends(files[name]):
            visit(dep)
        ordered.append(files[name])

    for name in wanted:
        visit(name)
    return ordered


def _cpio_entry(name: str, mode: int, data: bytes = b"", ino: int = 0) -> bytes:
    """One newc cpio record (the format the kernel unpacks an initramfs from)."""
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
    header = b"070701" + b"".join(f"{value:08x}".encode() for value in fields)
    record = header + name.encode() + b"\x00"
    record += b"\x00" * (-len(record) % 4)
    record += data + b"\x00" * (-len(data) % 4)
    return record


def build_initramfs(busybox: Path, modules: list[Path]) -> bytes:
    directories = [
        "bin", "sbin", "etc", "etc/acpi", "etc/acpi/PWRF", "etc/udhcpc", "lib", "lib/modules"
    ]  # fmt: skip
    files: list[tuple[str, int, bytes]] = [(d, stat.S_IFDIR | 0o755, b"") for d in directories]
    files += [
        ("bin/busybox", stat.S_IFREG | 0o755, busybox.read_bytes()),
        ("init", stat.S_IFLNK | 0o777, b"/bin/busybox"),
        ("etc/rc", stat.S_IFREG | 0o755, INIT.encode()),
        ("etc/watch-disks", stat.S_IFREG | 0o755, WATCH_DISKS.encode()),
        ("etc/network-up", stat.S_IFREG | 0o755, NETWORK_UP.encode()),
        ("etc/udhcpc/default.script", stat.S_IFREG | 0o755, UDHCPC_SCRIPT.encode()),
        ("etc/inittab", stat.S_IFREG | 0o644, INITTAB.encode()),
        ("etc/acpi/PWRF/00000080", stat.S_IFREG | 0o755, POWER_BUTTON.encode()),
    ]
    names = []
    for path in modules:
        name = path.stem.replace("-", "_")
        names.append(name)
        files.append((f"lib/modules/{name}.ko", stat.S_IFREG | 0o644, path.read_bytes()))
    files.append(("etc/modules", stat.S_IFREG | 0o644, ("\n".join(names) + "\n").encode()))
    # Every applet as a link to busybox, in the directories busybox says it belongs in.
    applets = [a for a in _run([str(busybox), "--list-full"]).split() if a != "linuxrc"]
    for parent in sorted({os.path.dirname(a) for a in applets} - set(directories)):
        files.insert(0, (parent, stat.S_IFDIR | 0o755, b""))
    files += [(a, stat.S_IFLNK | 0o777, b"/bin/busybox") for a in applets if a != "bin/busybox"]
    out = b"".join(
        _cpio_entry(name, mode, data, ino) for ino, (name, mode, data) in enumerate(files, 1)
    )
    return out + _cpio_entry("TRAILER!!!", 0)


def build(out: Path) -> tuple[Path, Path]:
    """The kernel and initramfs in `out`; rebuilt only when the packages or this
    script changed since the last build (recorded in `out/built-from`)."""
    debs = out / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    kernel_deb = download(kernel_package(), debs)
    busybox_deb = download("busybox-static", debs)
    vmlinux, initrd, stamp = out / "vmlinux", out / "initrd.img", out / "built-from"
    script = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    source = f"{kernel_deb.name}\n{busybox_deb.name}\n{script}\n"
    if vmlinux.exists() and initrd.exists() and stamp.exists() and stamp.read_text() == source:
        return vmlinux, initrd
    with tempfile.TemporaryDirectory(prefix="stratus-guest-") as tmp:
        tree = Path(tmp)
        _run(["dpkg-deb", "-x", str(kernel_deb), str(tree)])
        _run(["dpkg-deb", "-x", str(busybox_deb), str(tree)])
        (bzimage,) = (tree / "boot").glob("vmlinuz-*")
        (modules_dir,) = (tree / "lib" / "modules").iterdir()
        vmlinux.write_bytes(extract_vmlinux(bzimage.read_bytes()))
        initrd.write_bytes(
            build_initramfs(tree / "bin" / "busybox", module_order(modules_dir, MODULES))
        )
    stamp.write_text(source)
    return vmlinux, initrd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "var" / "guest"), help="output directory")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    vmlinux, initrd = build(out)
    print(f"kernel  {vmlinux}")
    print(f"ramdisk {initrd}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
