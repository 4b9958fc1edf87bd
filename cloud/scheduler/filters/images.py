"""ImagePropertiesFilter: hosts whose architecture and hypervisor type suit the image
(`hw_architecture` / `architecture`, `img_hv_type` / `hypervisor_type`).

A Python filter: it judges the bounded candidate set the SQL query returned.
"""

from cloud.scheduler.filters import HostFilter
from cloud.scheduler.request import HostState, Scheduling

ARCH_KEYS = ("hw_architecture", "architecture")
HV_KEYS = ("img_hv_type", "hypervisor_type")


def _first(properties: dict[str, str], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if properties.get(key):
            return str(properties[key]).lower()
    return None


class ImagePropertiesFilter(HostFilter):
    name = "ImagePropertiesFilter"

    def applies(self, ctx: Scheduling) -> bool:
        props = ctx.request.image_properties
        return bool(_first(props, ARCH_KEYS) or _first(props, HV_KEYS))

    def host_passes(self, host: HostState, ctx: Scheduling) -> bool:
        props = ctx.request.image_properties
        arch = _first(props, ARCH_KEYS)
        if arch and (host.architecture or "").lower() != arch:
            return False
        hv_type = _first(props, HV_KEYS)
        return not hv_type or host.hypervisor_type.lower() == hv_type

    def describe(self, ctx: Scheduling) -> str:
        props = ctx.request.image_properties
        wanted = [f"{k}={props[k]}" for k in (*ARCH_KEYS, *HV_KEYS) if props.get(k)]
        return f"did not match the image's {', '.join(wanted)}"
