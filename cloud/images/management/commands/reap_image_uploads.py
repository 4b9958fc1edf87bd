"""`manage.py reap_image_uploads [--older-than SECONDS]`: recover uploads whose API
process died mid-stream (the image is queued again, its partial bytes removed).

A live upload touches its image every minute, so the default of 10 minutes never
reaps one in progress. Run it from cron (or after restarting the API)."""

from django.core.management.base import BaseCommand

from cloud.images.services import image_uploads_reap


class Command(BaseCommand):
    help = "Queue again the images of uploads cut off by a dead API process; remove their bytes."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=float, default=600.0)

    def handle(self, *args, older_than: float, **options):
        reaped = image_uploads_reap(older_than=older_than)
        self.stdout.write(f"{reaped} interrupted upload(s) reaped")
