"""The payload specs built from instance rows: what a host is told about a guest.

Hosts have no database, so every message that makes a host act on a guest carries
the guest's whole InstanceSpec, built here (by the conductor, and by the api for
a rebuild on the guest's own host).
"""

from cloud.instances.models import Instance
from cloud.payloads import InstanceSpec


def instance_spec(instance: Instance) -> InstanceSpec:
    flavor = instance.flavor
    return InstanceSpec(
        uuid=str(instance.uuid),
        name=instance.domain_name,
        display_name=instance.display_name,
        hostname=instance.hostname,
        project_id=instance.project_id,
        user_id=instance.user_id,
        flavor={
            k: flavor[k]
            for k in (
                "name",
                "memory_mb",
                "vcpus",
                "root_gb",
                "ephemeral_gb",
                "swap",
                "extra_specs",
            )
        },
        image=dict(instance.image_meta),
        metadata=dict(instance.metadata),
    )
