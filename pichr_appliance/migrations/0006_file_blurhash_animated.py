from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0005_user_metadata')]

    initial = False

    operations = [
        ops.AddField(
            model_name='File',
            name='animated',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='File',
            name='blurhash',
            field=fields.CharField(null=True, max_length=64),
        ),
    ]
