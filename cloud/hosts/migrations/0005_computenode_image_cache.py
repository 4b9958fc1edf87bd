from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("hosts", "0004_computenode_unknown_domains"),
    ]

    operations = [
        migrations.AddField(
            model_name="computenode",
            name="image_cache",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
