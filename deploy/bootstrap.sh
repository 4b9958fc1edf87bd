#!/usr/bin/env bash
# Install what is missing on a Debian/Ubuntu machine, then the virtualenv.
#   deploy/bootstrap.sh          runtime (what `make run` needs)
#   deploy/bootstrap.sh --dev    plus tests, lint and benchmarks (what `make test` needs)
# Re-running is cheap: apt runs only for missing packages, pip only when a
# requirements file changed.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$ROOT/.venv"
REQ="$ROOT/requirements.txt"
[ "${1:-}" = "--dev" ] && REQ="$ROOT/requirements-dev.txt"

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

# qemu-utils: the image API probes uploaded data with `qemu-img info` (cloud/images/formats.py),
# every compute host makes its guests' disks (qemu-img; e2fsprogs for mkfs.ext4), and the
# volume workers make volumes (qemu-img) and export them over NBD (qemu-nbd, nbd backend).
# genisoimage: a compute host writes its guests' config drives (cloud/workers/virt/configdrive.py).
# libjs-chart.js: the admin dashboard's charts (served as a static file, no build).
packages=(gcc pkg-config libvirt-dev redis-server qemu-utils e2fsprogs genisoimage libjs-chart.js)
# The browser clients the console proxy serves (cloud/consoles/proxy.py).
packages+=(novnc spice-html5)
# --dev: the browser tests (the admin dashboard, the consoles: headless chromium through
# chromium-driver) and the multi-host test's network namespaces (ip netns, veth: iproute2).
[ "${1:-}" = "--dev" ] && packages+=(chromium chromium-driver iproute2)
python3 -m venv --help >/dev/null 2>&1 || packages+=(python3-venv)
python3 - <<'PY' || packages+=(python3-dev)
import os, sys, sysconfig
sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)
PY
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
fi

stamp="$VENV/.installed-$(basename "$REQ")"
digest="$(cat "$ROOT"/requirements*.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    echo "bootstrap: installing $(basename "$REQ") into .venv"
    "$VENV/bin/pip" install -q -r "$REQ"
    echo "$digest" > "$stamp"
fi

# The README's journey runs `openstack ...` from any shell: offer the venv's CLI
# on the PATH unless the machine already has one.
if ! command -v openstack >/dev/null 2>&1 && [ -w /usr/local/bin ]; then
    ln -sf "$VENV/bin/openstack" /usr/local/bin/openstack
fi
