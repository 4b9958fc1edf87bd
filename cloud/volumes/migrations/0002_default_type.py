"""Cinder's default volume type, `__DEFAULT__`, which a create naming no type gets."""

from django.db import migrations


def create_default(apps, schema_editor):
    VolumeType = apps.get_model("volumes", "VolumeType")
    VolumeType.objects.get_or_create(
        name="__DEFAULT__", defaults={"description": "Default Volume Type"}
    )


class Migration(migrations.Migration):
    dependencies = [("volumes", "0001_initial")]

    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]
