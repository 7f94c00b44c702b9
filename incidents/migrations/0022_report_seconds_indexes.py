# A report's second pass reads ranges of whole seconds (incidents/reports.py), and the
# planner is told how many buckets the first pass makes.

from django.conf import settings
from django.db import migrations, models

# The first pass groups by these expressions (incidents.reports.BUCKETS_SQL, BUCKET_SECONDS
# 256). Without statistics on them the planner guesses as many groups as rows: it sizes a
# hash table for a million groups and will not aggregate in parallel workers first.
BUCKET_STATISTICS = {
    "incident_ack_bucket": "floor(floor(ack_seconds) / 256::double precision)",
    "incident_statement_bucket": "floor(floor(statement_seconds) / 256::double precision)",
}


def create_statistics(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite's planner has nothing of the kind
    for name, expression in BUCKET_STATISTICS.items():
        schema_editor.execute(
            f"CREATE STATISTICS IF NOT EXISTS {name} ON ({expression}) FROM incidents_incident"
        )
    schema_editor.execute("ANALYZE incidents_incident")


def drop_statistics(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in BUCKET_STATISTICS:
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("crisis", "0010_schedule_handoff_clock"),
        ("incidents", "0021_moved_key_records"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("ack_seconds__isnull", False), ("merged_into__isnull", True)),
                fields=["ack_seconds"],
                include=("brand", "detected_at", "severity", "category", "channel", "assignee"),
                name="incident_ack_seconds",
            ),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("merged_into__isnull", True), ("statement_seconds__isnull", False)),
                fields=["statement_seconds"],
                include=("brand", "detected_at", "severity", "category", "channel", "assignee"),
                name="incident_statement_seconds",
            ),
        ),
        migrations.RunPython(create_statistics, drop_statistics, elidable=False),
    ]
