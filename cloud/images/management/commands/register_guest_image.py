"""`manage.py register_guest_image`: the tiny QEMU guest as Glance images, Nova's AMI style.

Three public images with fixed ids, so that re-running updates them in place:
`guest-kernel` (aki) and `guest-ramdisk` (ari), whose data are the files that
deploy/guest_image.py built, and `guest` (ami), bootable, whose kernel_id and
ramdisk_id properties name the other two. The libvirt driver boots `guest`
directly from them; the files must be readable at the same path on every
compute host (the development stack runs all hosts on one machine).
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cloud.images.services import image_register_file

KERNEL_ID = "5f0c2a8e-1d3b-4c6a-9e7f-2b8d4a6c0e11"
RAMDISK_ID = "5f0c2a8e-1d3b-4c6a-9e7f-2b8d4a6c0e12"
GUEST_ID = "5f0c2a8e-1d3b-4c6a-9e7f-2b8d4a6c0e13"


class Command(BaseCommand):
    help = "Register the guest kernel and ramdisk as images, and the bootable image `guest`."

    def add_arguments(self, parser):
        guest_dir = Path(settings.VAR_DIR) / "guest"
        parser.add_argument("--kernel", type=Path, default=guest_dir / "vmlinux")
        parser.add_argument("--ramdisk", type=Path, default=guest_dir / "initrd.img")
        parser.add_argument("--name", default="guest")

    @transaction.atomic
    def handle(self, *args, kernel: Path, ramdisk: Path, name: str, **options):
        for path in (kernel, ramdisk):
            if not path.is_file():
                raise CommandError(f"{path} does not exist: run deploy/guest_image.py first")
        kernel_image = image_register_file(
            image_id=KERNEL_ID,
            name=f"{name}-kernel",
            path=kernel,
            disk_format="aki",
            container_format="aki",
        )
        ramdisk_image = image_register_file(
            image_id=RAMDISK_ID,
            name=f"{name}-ramdisk",
            path=ramdisk,
            disk_format="ari",
            container_format="ari",
        )
        image_register_file(
            image_id=GUEST_ID,
            name=name,
            path=None,
            disk_format="ami",
            container_format="ami",
            properties={
                "kernel_id": str(kernel_image.id),
                "ramdisk_id": str(ramdisk_image.id),
                "architecture": "x86_64",
                # Under QEMU's software emulation on a busy host the kernel's check of
                # the timer's IO-APIC route can hang the boot ("MP-BIOS bug: 8254 timer
                # not connected"); virtual machines' kernels skip it, as cloud images do.
                "os_command_line": "quiet no_timer_check",
            },
        )
        self.stdout.write(
            f"registered: {name} ({GUEST_ID}) booting {kernel_image.name} "
            f"({kernel}) and {ramdisk_image.name} ({ramdisk})"
        )
