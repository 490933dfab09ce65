from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="Delivery",
            fields=[
                (
                    "id",
                    fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40),
                ),
                ("event", fields.CharField(max_length=64)),
                ("endpoint", fields.CharField(max_length=200)),
                ("url", fields.TextField(unique=False)),
                ("body", fields.TextField(unique=False)),
                ("status", fields.CharField(default="pending", db_index=True, max_length=16)),
                ("attempts", fields.IntField(default=0)),
                ("next_attempt_at", fields.BigIntField(db_index=True)),
                ("lease_until", fields.BigIntField(default=0)),
                ("lease_holder", fields.CharField(default="", max_length=64)),
                ("last_status", fields.IntField(null=True)),
                ("last_error", fields.TextField(default="", unique=False)),
                ("created_at", fields.BigIntField()),
                ("delivered_at", fields.BigIntField(null=True)),
            ],
            options={
                "table": "webhook_deliveries",
                "app": "pichr_webhooks",
                "pk_attr": "id",
                "table_description": "One event for one endpoint.",
            },
            bases=["Model"],
        ),
    ]
