from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_upload_claims')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Variant',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=255)),
                ('file_id', fields.CharField(db_index=True, max_length=40)),
                ('bytes', fields.BigIntField()),
                ('last_used', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'variants', 'app': 'models', 'pk_attr': 'key'},
            bases=['Model'],
        ),
    ]
