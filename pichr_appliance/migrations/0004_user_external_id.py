from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_lease')]

    initial = False

    operations = [
        ops.AddField(
            model_name='User',
            name='external_id',
            field=fields.CharField(null=True, unique=True, max_length=200),
        ),
    ]
