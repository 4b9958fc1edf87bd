"""`manage.py seed`: the admin user, a demo project, the m1 flavors and the `tiny` image.

Safe to run on every start: existing rows are updated, never duplicated.
"""

from django.core.management.base import BaseCommand
from django.db import transaction

from cloud.identity.services import project_user_ensure
from cloud.images.services import image_register_file
from cloud.instances.models import Flavor

FLAVORS = [
    # flavorid, name, MB RAM, GB disk, VCPUs (Nova's classic defaults)
    ("1", "m1.tiny", 512, 1, 1),
    ("2", "m1.small", 2048, 20, 1),
    ("3", "m1.medium", 4096, 40, 2),
    ("4", "m1.large", 8192, 80, 4),
    ("5", "m1.xlarge", 16384, 160, 8),
]

TINY_IMAGE_ID = "0c9e5a4c-6d2e-4d7e-9b8f-7a3c1e2f4b5d"


def seed_catalog(*, image_owner: str = "") -> None:
    """The m1 flavors and the public `tiny` image (created or brought up to date). A
    name an admin gave another flavor (os-flavor-manage) keeps that flavor: the m1
    flavor of that name is left out rather than clash with it."""
    for flavorid, name, ram, disk, vcpus in FLAVORS:
        if Flavor.objects.filter(name=name).exclude(flavorid=flavorid).exists():
            continue
        Flavor.objects.update_or_create(
            flavorid=flavorid,
            defaults={"name": name, "memory_mb": ram, "root_gb": disk, "vcpus": vcpus},
        )
    image_register_file(
        image_id=TINY_IMAGE_ID,
        name="tiny",
        path=None,
        disk_format="qcow2",
        container_format="bare",
        properties={"architecture": "x86_64"},
        owner=image_owner,
    )


class Command(BaseCommand):
    help = "Create the admin user, the demo project, the m1 flavors and the tiny image."

    def add_arguments(self, parser):
        parser.add_argument("--admin-password", default="admin")
        parser.add_argument("--demo-password", default="demo")

    @transaction.atomic
    def handle(self, *args, admin_password: str, demo_password: str, **options):
        admin_project, _ = project_user_ensure(
            project_name="admin",
            username="admin",
            password=admin_password,
            role_name="admin",
            is_superuser=True,
        )
        project_user_ensure(
            project_name="demo", username="demo", password=demo_password, role_name="member"
        )
        seed_catalog(image_owner=admin_project.id)
        self.stdout.write(
            f"seeded: users admin, demo; projects admin, demo; {len(FLAVORS)} flavors; image tiny"
        )
