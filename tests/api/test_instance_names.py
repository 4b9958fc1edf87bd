"""A guest's name on its hypervisor comes from INSTANCE_NAME_TEMPLATE (Nova's
instance_name_template), shown to admins as OS-EXT-SRV-ATTR:instance_name."""

from django.test import override_settings

from cloud.instances.models import Instance
from tests.helpers import create_server

SERVERS = "/compute/v2.1/servers"


def test_the_default_is_nova_s_template(api, admin_api):
    server = create_server(api, "named")
    instance = Instance.objects.get(uuid=server["id"])
    shown = admin_api.get(f"{SERVERS}/{server['id']}").json()["server"]
    assert shown["OS-EXT-SRV-ATTR:instance_name"] == f"instance-{instance.id:08x}"


@override_settings(INSTANCE_NAME_TEMPLATE="lab-%06d")
def test_another_template_names_the_guests(api, admin_api):
    server = create_server(api, "named")
    instance = Instance.objects.get(uuid=server["id"])
    shown = admin_api.get(f"{SERVERS}/{server['id']}").json()["server"]
    assert shown["OS-EXT-SRV-ATTR:instance_name"] == f"lab-{instance.id:06d}"
