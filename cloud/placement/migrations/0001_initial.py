"""Placement's models, moved out of the scheduler app: this adds them to placement's
state only, on the tables the scheduler's migrations created (scheduler 0004 takes
them out of the scheduler's state, 0002 here renames the tables), so a database of
an earlier release keeps every row."""

import django.db.models.deletion
import django.db.models.expressions
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('scheduler', '0003_claim_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='Consumer',
                    fields=[
                        ('uuid', models.CharField(max_length=36, primary_key=True, serialize=False)),
                        ('project_id', models.CharField(blank=True, default='', max_length=64)),
                        ('user_id', models.CharField(blank=True, default='', max_length=64)),
                        ('generation', models.PositiveBigIntegerField(default=0)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                    ],
                    options={
                        'db_table': 'scheduler_consumer',
                    },
                ),
                migrations.CreateModel(
                    name='CustomResourceClass',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=255, unique=True)),
                    ],
                    options={
                        'db_table': 'scheduler_customresourceclass',
                    },
                ),
                migrations.CreateModel(
                    name='Trait',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=255, unique=True)),
                    ],
                    options={
                        'db_table': 'scheduler_trait',
                    },
                ),
                migrations.CreateModel(
                    name='ResourceProvider',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('uuid', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                        ('name', models.CharField(max_length=200, unique=True)),
                        ('generation', models.PositiveBigIntegerField(default=0)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('parent', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='children', to='placement.resourceprovider')),
                        ('traits', models.ManyToManyField(blank=True, related_name='providers', to='placement.trait')),
                    ],
                    options={
                        'db_table': 'scheduler_resourceprovider',
                    },
                ),
                migrations.CreateModel(
                    name='ProviderAggregate',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('aggregate', models.UUIDField(db_index=True)),
                        ('provider', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='aggregates', to='placement.resourceprovider')),
                    ],
                    options={
                        'db_table': 'scheduler_provideraggregate',
                        'constraints': [models.UniqueConstraint(fields=('provider', 'aggregate'), name='provider_aggregate')],
                    },
                ),
                migrations.CreateModel(
                    name='Inventory',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('resource_class', models.CharField(max_length=255)),
                        ('total', models.PositiveBigIntegerField()),
                        ('reserved', models.PositiveBigIntegerField(default=0)),
                        ('min_unit', models.PositiveBigIntegerField(default=1)),
                        ('max_unit', models.PositiveBigIntegerField()),
                        ('step_size', models.PositiveBigIntegerField(default=1)),
                        ('allocation_ratio', models.FloatField(default=1.0)),
                        ('capacity', models.BigIntegerField(default=0)),
                        ('used', models.BigIntegerField(default=0)),
                        ('provider', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='inventories', to='placement.resourceprovider')),
                    ],
                    options={
                        'db_table': 'scheduler_inventory',
                        'verbose_name_plural': 'inventories',
                        'indexes': [models.Index(models.F('resource_class'), django.db.models.expressions.CombinedExpression(models.F('capacity'), '-', models.F('used')), name='inventory_free')],
                        'constraints': [models.UniqueConstraint(fields=('provider', 'resource_class'), name='inventory_unique_class'), models.CheckConstraint(condition=models.Q(('used__gte', 0)), name='inventory_used_not_negative')],
                    },
                ),
                migrations.CreateModel(
                    name='Allocation',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('consumer_id', models.CharField(max_length=36)),
                        ('project_id', models.CharField(blank=True, default='', max_length=64)),
                        ('resource_class', models.CharField(max_length=255)),
                        ('used', models.PositiveBigIntegerField()),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('provider', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='allocations', to='placement.resourceprovider')),
                    ],
                    options={
                        'db_table': 'scheduler_allocation',
                        'indexes': [models.Index(fields=['provider', 'resource_class'], name='scheduler_a_provide_9d03db_idx')],
                        'constraints': [models.UniqueConstraint(fields=('consumer_id', 'provider', 'resource_class'), name='allocation_unique_consumer_class')],
                    },
                ),
            ],
        ),
    ]
