"""`manage.py seed_networks`: the `public` external network (with a subnet for floating
IPs, owned by the admin project) and a `private` network for the demo project, so that
`openstack server create --network private` works on a new stack.

Safe to run on every start: networks that exist (by name, in their project) are kept.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cloud.identity.admin_selectors import project_list
from cloud.identity.context import RequestContext
from cloud.network import services
from cloud.network.models import Network


def _admin_context(project_id: str) -> RequestContext:
    return RequestContext(
        user_id="seed", user_name="seed", project_id=project_id, project_name="", roles=["admin"]
    )


def network_ensure(
    *, project_id: str, name: str, cidr: str, external: bool, pools: list | None = None
) -> Network:
    found = Network.objects.filter(project_id=project_id, name=name).first()
    if found is not None:
        return found
    context = _admin_context(project_id)
    network = services.network_create(
        context=context, name=name, project_id=project_id, external=external
    )
    services.subnet_create(
        context=context,
        network=network,
        cidr=cidr,
        name=f"{name}-subnet",
        project_id=project_id,
        allocation_pools=pools,
    )
    return network


class Command(BaseCommand):
    help = "Create the public external network and the demo project's private network."

    def add_arguments(self, parser):
        parser.add_argument("--public-cidr", default="172.24.4.0/24")
        parser.add_argument("--private-cidr", default="10.0.0.0/24")
        parser.add_argument("--admin-project", default="admin")
        parser.add_argument("--demo-project", default="demo")

    @transaction.atomic
    def handle(self, *args, public_cidr, private_cidr, admin_project, demo_project, **options):
        admin = project_list(name=admin_project).first()
        demo = project_list(name=demo_project).first()
        if admin is None or demo is None:
            raise CommandError("run `manage.py seed` first: the admin and demo projects")
        public = network_ensure(project_id=admin.id, name="public", cidr=public_cidr, external=True)
        private = network_ensure(
            project_id=demo.id, name="private", cidr=private_cidr, external=False
        )
        self.stdout.write(
            f"networks: public {public.id} (VLAN {public.segmentation_id}), "
            f"private {private.id} (VLAN {private.segmentation_id})"
        )
