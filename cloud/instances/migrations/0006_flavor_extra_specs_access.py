"""Flavor extra specs become rows of their own (copied from the flavor's JSON column),
and private flavors get their access list (Nova's flavor_projects)."""

import django.db.models.deletion
from django.db import migrations, models


def specs_to_rows(apps, schema_editor):
    Flavor = apps.get_model("instances", "Flavor")
    FlavorExtraSpec = apps.get_model("instances", "FlavorExtraSpec")
    FlavorExtraSpec.objects.bulk_create(
        FlavorExtraSpec(flavor=flavor, key=key, value=str(value))
        for flavor in Flavor.objects.exclude(extra_specs={})
        for key, value in (flavor.extra_specs or {}).items()
    )


def rows_to_specs(apps, schema_editor):
    Flavor = apps.get_model("instances", "Flavor")
    for flavor in Flavor.objects.prefetch_related("specs"):
        flavor.extra_specs = {spec.key: spec.value for spec in flavor.specs.all()}
        flavor.save(update_fields=["extra_specs"])


class Migration(migrations.Migration):
    dependencies = [
        ("instances", "0005_migration"),
    ]

    operations = [
        migrations.CreateModel(
            name="FlavorExtraSpec",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=255)),
                ("value", models.CharField(blank=True, max_length=255)),
                (
                    "flavor",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="specs",
                        to="instances.flavor",
                    ),
                ),
            ],
            options={
                "ordering": ["key"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("flavor", "key"), name="flavor_extra_spec_unique_key"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="FlavorAccess",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("project_id", models.CharField(db_index=True, max_length=64)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "flavor",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="access",
                        to="instances.flavor",
                    ),
                ),
            ],
            options={
                "ordering": ["created_at", "id"],
                "verbose_name_plural": "flavor access",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("flavor", "project_id"), name="flavor_access_unique_project"
                    )
                ],
            },
        ),
        migrations.RunPython(specs_to_rows, rows_to_specs),
        migrations.RemoveField(model_name="flavor", name="extra_specs"),
    ]
