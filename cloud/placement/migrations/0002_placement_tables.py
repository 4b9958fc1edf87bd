"""The tables placement took over from the scheduler app get placement's names
(scheduler_* to placement_*, with the providers' traits table), renamed in place so
every row stays; the content types follow, so admin history and permissions granted
on these models keep pointing at them."""

from django.db import migrations

MOVED = [
    'allocation',
    'consumer',
    'customresourceclass',
    'inventory',
    'provideraggregate',
    'resourceprovider',
    'trait',
]


def _relabel(apps, schema_editor, old: str, new: str) -> None:
    ContentType = apps.get_model('contenttypes', 'ContentType')
    types = ContentType.objects.using(schema_editor.connection.alias)
    for model in MOVED:
        # A database migrated before has no row under the new label yet; should one
        # exist (created by hand), the old row is left as it is rather than clash.
        if not types.filter(app_label=new, model=model).exists():
            types.filter(app_label=old, model=model).update(app_label=new)


def content_types_to_placement(apps, schema_editor):
    _relabel(apps, schema_editor, 'scheduler', 'placement')


def content_types_to_scheduler(apps, schema_editor):
    _relabel(apps, schema_editor, 'placement', 'scheduler')


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('placement', '0001_initial'),
        ('scheduler', '0004_placement_moved_out'),
    ]

    operations = [
        migrations.AlterModelTable(name='allocation', table=None),
        migrations.AlterModelTable(name='consumer', table=None),
        migrations.AlterModelTable(name='customresourceclass', table=None),
        migrations.AlterModelTable(name='inventory', table=None),
        migrations.AlterModelTable(name='provideraggregate', table=None),
        migrations.AlterModelTable(name='resourceprovider', table=None),
        migrations.AlterModelTable(name='trait', table=None),
        migrations.RenameIndex(
            model_name='allocation',
            new_name='allocation_provider_class',
            old_name='scheduler_a_provide_9d03db_idx',
        ),
        migrations.RunPython(content_types_to_placement, content_types_to_scheduler),
    ]
