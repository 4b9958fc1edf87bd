"""Placement's models moved to the placement app (cloud.placement): they leave the
scheduler's state only; their tables and rows stay, and placement's migrations take
them over (placement 0001 adds them to its state, 0002 renames the tables)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('scheduler', '0003_claim_indexes'),
        ('placement', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name='Allocation'),
                migrations.DeleteModel(name='Inventory'),
                migrations.DeleteModel(name='ProviderAggregate'),
                migrations.DeleteModel(name='Consumer'),
                migrations.DeleteModel(name='ResourceProvider'),
                migrations.DeleteModel(name='Trait'),
                migrations.DeleteModel(name='CustomResourceClass'),
            ],
        ),
    ]
