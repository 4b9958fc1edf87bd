"""The payload specs built from instance rows: what a host is told about a guest.

Hosts have no database, so every message that makes a host act on a guest carries
the guest's whole InstanceSpec (its interfaces included), built here (by the
conductor, and by the api for a rebuild on the guest's own host). The image part
carries what the host fetches the image's data with (a fresh, image-scoped transfer
token: cloud.images.boot).
"""

from cloud.images.boot import image_download_fields
from cloud.instances.models import Instance
from cloud.network.servers import server_vifs
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
        image={
            **instance.image_meta,
            **image_download_fields(image_id=str(instance.image_meta.get("id", ""))),
        },
        metadata=dict(instance.metadata),
        ports=server_vifs(instance_uuid=str(instance.uuid)),
        config_drive=instance.config_drive,
        user_data=instance.user_data or "",
    )
