from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("hosts", "0002_aggregates_failed_builds"),
    ]

    operations = [
        migrations.AddField(
            model_name="computenode",
            name="capabilities",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
