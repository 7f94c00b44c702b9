import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0011_notification_brand'),
    ]

    operations = [
        migrations.AlterField(
            model_name='notification',
            name='brand',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='crisis.brand'),
        ),
    ]
