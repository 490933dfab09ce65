from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_file_blurhash_animated')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Upload',
            name='claimed_by',
            field=fields.CharField(null=True, max_length=200),
        ),
        ops.AddField(
            model_name='Upload',
            name='claimed_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Upload',
            name='one_step',
            field=fields.BooleanField(default=False),
        ),
    ]
