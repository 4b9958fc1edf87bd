from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("hosts", "0003_computenode_capabilities"),
    ]

    operations = [
        migrations.AddField(
            model_name="computenode",
            name="unknown_domains",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
