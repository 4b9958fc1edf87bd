"""Disk format checks of uploaded data with `qemu-img info` (qemu-utils).

qemu-img probes the content's format; the image is refused (400, its data
removed) when the declared disk_format does not match what the data is, as
Glance's format inspector refuses it: a "raw" upload that is really a qcow2
would let the guest's disk name files of the host through a backing file. A
qcow2 naming a backing file or an external data file is refused too. ISO
images are what qemu-img reads as raw, with the ISO 9660 signature.
"""

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Glance disk_format -> the format qemu-img reports for such content.
QEMU_FORMATS = {
    "raw": "raw",
    "qcow2": "qcow2",
    "vmdk": "vmdk",
    "vdi": "vdi",
    "vhd": "vpc",
    "vhdx": "vhdx",
    "iso": "raw",
    "ploop": "parallels",
}
# Formats whose content qemu-img does not tell apart from raw data: not probed.
UNCHECKED = {"ami", "ari", "aki"}
ISO_SIGNATURE_OFFSET = 0x8001
PROBE_TIMEOUT = 60


class FormatMismatch(ValueError):
    """The data is not what its disk_format says (or is unsafe to boot)."""


@dataclass(frozen=True)
class Probe:
    format: str
    virtual_size: int


def probe(path: Path) -> Probe:
    """What qemu-img makes of the file (its format and virtual size)."""
    try:
        out = subprocess.run(
            ["qemu-img", "info", "--output=json", str(path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=PROBE_TIMEOUT,
        )
    except subprocess.CalledProcessError as exc:
        raise FormatMismatch(f"Image data is unreadable: {exc.stderr.strip()}") from exc
    info = json.loads(out.stdout)
    if info.get("backing-filename") or (info.get("format-specific") or {}).get("data", {}).get(
        "data-file"
    ):
        raise FormatMismatch("Image data names a backing or data file; it is refused")
    return Probe(format=str(info.get("format", "")), virtual_size=int(info["virtual-size"]))


def _is_iso(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(ISO_SIGNATURE_OFFSET)
        return handle.read(5) == b"CD001"


def check_format(path: Path, disk_format: str, size: int) -> int | None:
    """The image's virtual size once its content matches `disk_format`, else FormatMismatch."""
    if disk_format in UNCHECKED:
        return size
    found = probe(path)
    expected = QEMU_FORMATS.get(disk_format)
    if expected is None or found.format != expected:
        raise FormatMismatch(
            f"Image content does not match disk_format {disk_format!r} (it is {found.format!r})"
        )
    if disk_format == "iso" and not _is_iso(path):
        raise FormatMismatch("Image content does not match disk_format 'iso'")
    # qemu-img rounds a raw file up to whole sectors; a raw image is its bytes.
    return size if expected == "raw" else found.virtual_size
