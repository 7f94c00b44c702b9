import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def notifications_belong_to_their_incidents_brand(apps, schema_editor):
    Notification = apps.get_model("incidents", "Notification")
    Incident = apps.get_model("incidents", "Incident")
    Notification.objects.filter(brand__isnull=True).update(
        brand=Subquery(Incident.objects.filter(pk=OuterRef("incident_id")).values("brand_id")[:1])
    )


class Migration(migrations.Migration):
    # A notification need not be about an incident (an invitation is not); it always
    # belongs to a brand. The column is filled here and made NOT NULL in 0012: on
    # PostgreSQL a table whose foreign keys were just updated cannot be altered in the
    # same transaction (pending trigger events).
    dependencies = [
        ('crisis', '0007_invitation'),
        ('incidents', '0010_mentions_counted_by_their_wave'),
    ]

    operations = [
        migrations.AddField(
            model_name='notification',
            name='brand',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='crisis.brand'),
        ),
        migrations.AlterField(
            model_name='notification',
            name='incident',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='incidents.incident'),
        ),
        migrations.RunPython(notifications_belong_to_their_incidents_brand, migrations.RunPython.noop),
    ]
