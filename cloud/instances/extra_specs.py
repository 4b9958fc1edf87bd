"""Flavor extra specs: which keys Nova knows, and what their values may be.

Nova checks extra specs only from microversion 2.86, and only in the namespaces it
knows: a key of a known namespace (`hw:`, `hw_rng:`, `hw_video:`, `resources:`,
`trait:`, `aggregate_instance_extra_specs:`, `quota:`, `os:`, ...) must be one of that
namespace's keys with a value of its kind; a key in an unknown namespace, or with no
namespace, is anyone's (a scheduler filter's, an operator's) and is allowed. Below
2.86 any key of Nova's pattern and any value of 255 characters at most is stored.

The scheduler reads the extra specs an instance copied from its flavor (the
`aggregate_instance_extra_specs:` ones and unscoped keys, by
AggregateInstanceExtraSpecsFilter); nothing here changes what it reads.
"""

import re
from dataclasses import dataclass

from cloud.api.errors import BadRequest
from cloud.api.parsing import INT64_MAX, InvalidValue, parse_int
from cloud.placement.standard import RESOURCE_CLASSES, TRAITS

# Nova's extra spec (and metadata) key: letters, digits and "-_:. ", 1 to 255 of them.
KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")
VALUE_MAX_LENGTH = 255

# A request group suffix: `resources1:VCPU`, `trait_gpu:HW_GPU_API_VULKAN`.
_GROUP = r"[a-zA-Z0-9_-]{0,64}"
_CPU_SET = r"\^?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*"
_TRUE = {"1", "t", "true", "on", "y", "yes"}
_FALSE = {"0", "f", "false", "off", "n", "no"}


@dataclass(frozen=True)
class Spec:
    """A known key (a regular expression over the whole key) and its value's kind:
    "int" (with `low`/`high` bounds), "bool", "str" (`pattern` or `choices`)."""

    key: str
    kind: str = "str"
    choices: tuple[str, ...] = ()
    pattern: str = ""
    low: int | None = None
    high: int | None = None

    def check(self, name: str, value: str) -> None:
        if self.kind == "int":
            self._check_int(value)
        elif self.kind == "bool":
            if value.lower() not in _TRUE | _FALSE:
                raise _invalid(f"'{value}' is not a valid boolean-like value.")
        elif self.pattern and not re.fullmatch(self.pattern, value):
            raise _invalid(f"'{value}' is not of the format '{self.pattern}'.")
        elif self.choices and value not in self.choices:
            raise _invalid(f"'{value}' is not one of: {', '.join(self.choices)}.")

    def _check_int(self, value: str) -> None:
        try:
            number = parse_int(value, name="extra spec", maximum=INT64_MAX)
        except InvalidValue:
            raise _invalid(f"'{value}' is not a valid integer value.") from None
        if self.high is not None and number > self.high:
            raise _invalid(f"'{value}' is greater than the max value of '{self.high}'.")
        if self.low is not None and number < self.low:
            raise _invalid(f"'{value}' is less than the min value of '{self.low}'.")


def _invalid(reason: str) -> BadRequest:
    return BadRequest(f"Validation failed; {reason}")


def _plain(names: str, **value) -> list[Spec]:
    return [Spec(re.escape(name), **value) for name in names.split()]


_SHARES = ("custom", "high", "normal", "low")
_QUOTA_PARTS = ("cpu", "memory", "disk_io", "vif")

SPECS: list[Spec] = [
    # hw: the guest's virtual hardware (Nova's libvirt driver reads these).
    *_plain(
        "hw:cpu_realtime hw:hide_hypervisor_id hw:locked_memory hw:boot_menu "
        "hw:vif_multiqueue_enabled hw:mem_encryption hw:pmu hw:virtio_packed_ring "
        "hw:ephemeral_encryption",
        kind="bool",
    ),
    Spec(r"hw:cpu_realtime_mask", pattern=r"(\^)?\d+((-\d+)?(,\^?\d+(-\d+)?)?)*"),
    Spec(r"hw:cpu_dedicated_mask", pattern=_CPU_SET),
    Spec(r"hw:cpu_policy", choices=("dedicated", "shared", "mixed")),
    Spec(r"hw:cpu_thread_policy", choices=("prefer", "isolate", "require")),
    Spec(r"hw:emulator_threads_policy", choices=("isolate", "share")),
    Spec(r"hw:mem_page_size", pattern=r"(large|small|any|\d+([kKMGT]i?)?(b|bit|B)?)"),
    Spec(r"hw:numa_nodes", kind="int", low=1),
    Spec(r"hw:numa_cpus\.\d+", pattern=_CPU_SET),
    Spec(r"hw:numa_mem\.\d+", kind="int", low=1),
    Spec(r"hw:pci_numa_affinity_policy", choices=("required", "preferred", "legacy", "socket")),
    *_plain(
        "hw:cpu_sockets hw:cpu_cores hw:cpu_threads hw:cpu_max_sockets hw:cpu_max_cores "
        "hw:cpu_max_threads",
        kind="int",
        low=1,
    ),
    Spec(r"hw:mem_encryption_model", choices=("amd-sev", "amd-sev-es", "amd-sev-snp")),
    Spec(r"hw:pmem", pattern=r"([a-zA-Z0-9_]+(,)?)+"),
    Spec(r"hw:serial_port_count", kind="int", low=0),
    Spec(r"hw:tpm_model", choices=("tpm-tis", "tpm-crb")),
    Spec(r"hw:tpm_version", choices=("1.2", "2.0")),
    Spec(r"hw:tpm_secret_security", choices=("user", "host", "deployment")),
    Spec(r"hw:watchdog_action", choices=("none", "pause", "poweroff", "reset", "disabled")),
    Spec(r"hw:viommu_model", choices=("intel", "smmuv3", "virtio", "auto")),
    Spec(
        r"hw:sound_model",
        choices=("sb16", "es1370", "pcspk", "ac97", "ich6", "ich9", "usb", "virtio"),
    ),
    Spec(r"hw:usb_model", choices=("none", "nec-xhci", "qemu-xhci")),
    Spec(r"hw:redirected_usb_ports", kind="int", low=0, high=15),
    Spec(r"hw:ephemeral_encryption_format", choices=("plain", "luks", "luksv2")),
    Spec(r"hw_rng:allowed", kind="bool"),
    *_plain("hw_rng:rate_bytes hw_rng:rate_period hw_video:ram_max_mb", kind="int", low=0),
    # Placement: amounts of resource classes, required and forbidden traits.
    Spec(rf"resources{_GROUP}:({'|'.join(RESOURCE_CLASSES)}|CUSTOM_[A-Z0-9_]+)", kind="int"),
    Spec(
        rf"trait{_GROUP}:({'|'.join(sorted(TRAITS))}|CUSTOM_[A-Z0-9_]+)",
        choices=("required", "forbidden"),
    ),
    Spec(r"group_policy", choices=("isolate", "none")),
    # The scheduler's AggregateInstanceExtraSpecsFilter: any key, any value.
    Spec(r"aggregate_instance_extra_specs:.+"),
    Spec(r"os:secure_boot", choices=("disabled", "required")),
    Spec(r"accel:device_profile"),
    Spec(r"pci_passthrough:alias", pattern=r"[^:]+:\d+(?:\s*,\s*[^:]+:\d+)*"),
    *_plain("vmware:hw_version vmware:storage_policy"),
    *[Spec(rf"quota:{part}_limit", kind="int", low=0) for part in _QUOTA_PARTS],
    *[Spec(rf"quota:{part}_reservation", kind="int") for part in _QUOTA_PARTS],
    *[Spec(rf"quota:{part}_shares_level", choices=_SHARES) for part in _QUOTA_PARTS],
    *[Spec(rf"quota:{part}_shares_share", kind="int", low=0) for part in _QUOTA_PARTS],
    *_plain(
        "quota:cpu_shares quota:cpu_period quota:disk_read_bytes_sec quota:disk_read_iops_sec "
        "quota:disk_write_bytes_sec quota:disk_write_iops_sec quota:disk_total_bytes_sec "
        "quota:disk_total_iops_sec quota:vif_inbound_average quota:vif_inbound_peak "
        "quota:vif_inbound_burst quota:vif_outbound_average quota:vif_outbound_peak "
        "quota:vif_outbound_burst",
        kind="int",
        low=0,
    ),
    Spec(r"quota:cpu_quota", kind="int"),
    # The ComputeCapabilitiesFilter's host attributes, compared as strings.
    Spec(
        r"capabilities:(id|uuid|service_id|host|vcpus|memory_mb|local_gb|vcpus_used|"
        r"memory_mb_used|local_gb_used|hypervisor_type|hypervisor_version|"
        r"hypervisor_hostname|free_ram_mb|free_disk_gb|current_workload|running_vms|"
        r"disk_available_least|host_ip|mapped|cpu_allocation_ratio|ram_allocation_ratio|"
        r"disk_allocation_ratio|total_usable_ram_mb|total_usable_disk_gb|disk_mb_used|"
        r"free_disk_mb|vcpus_total|num_instances|num_io_ops|failed_builds|aggregates|"
        r"cell_uuid|updated)"
    ),
    Spec(
        r"capabilities:(cpu_info|metrics|stats|numa_topology|supported_hv_specs|"
        r"pci_device_pools|nodename|pci_stats|supported_instances|limits|instances)(:\w+)*"
    ),
]

# The namespaces Nova knows: a key in one of them must be a known key.
NAMESPACES = re.compile(
    rf"(hw|hw_rng|hw_video|resources{_GROUP}|trait{_GROUP}|aggregate_instance_extra_specs|"
    r"os|accel|pci_passthrough|vmware|quota|capabilities)"
)
_COMPILED = [(re.compile(spec.key), spec) for spec in SPECS]


def extra_spec_check(name: str, value: str) -> None:
    """400 (Nova's 2.86 validation) unless the key is known with a value of its kind,
    or in no namespace Nova knows."""
    for key, spec in _COMPILED:
        if key.fullmatch(name):
            spec.check(name, value)
            return
    namespace, colon, _ = name.partition(":")
    if colon and NAMESPACES.fullmatch(namespace):
        raise _invalid(f"extra spec '{name}' does not appear to be a valid extra spec.")


def extra_specs_parse(specs, *, strict: bool) -> dict[str, str]:
    """A request's extra specs (Nova's schema: keys of KEY's pattern, string or number
    values of 255 characters at most) as strings; each checked when `strict` (2.86+)."""
    if not isinstance(specs, dict):
        raise BadRequest("Invalid input for field/attribute extra_specs: must be an object.")
    parsed = {}
    for name, value in specs.items():
        if not KEY.match(name):
            raise BadRequest(
                f"Invalid input for field/attribute extra_specs: Additional properties are "
                f"not allowed ({name!r} was unexpected)"
            )
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise BadRequest(
                f"Invalid input for field/attribute {name}: {value!r} is not of type "
                f"'string', 'number'"
            )
        text = value if isinstance(value, str) else str(value)
        if len(text) > VALUE_MAX_LENGTH:
            raise BadRequest(
                f"Invalid input for field/attribute {name}: {text!r} is too long "
                f"({VALUE_MAX_LENGTH} characters at most)"
            )
        if strict:
            extra_spec_check(name, text)
        parsed[name] = text
    return parsed
