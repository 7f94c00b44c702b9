# The report columns become whole seconds (integers), and the report's first pass reads a
# partial index without merged incidents; a narrow one serves reports by brand, severity
# and day.
# Generated columns cannot be altered: each is dropped (with its indexes and statistics)
# and added again, which PostgreSQL computes for every row.

from django.conf import settings
from django.db import migrations, models

import incidents.models

# The first pass groups by these expressions (incidents.reports.BUCKETS_SQL, buckets of
# 2 ** BUCKET_BITS seconds). Without statistics on them the planner guesses as many groups
# as rows: it sizes a hash table for a million groups and will not aggregate in parallel.
BUCKET_STATISTICS = {
    "incident_ack_bucket": "(ack_seconds >> 8)",
    "incident_statement_bucket": "(statement_seconds >> 8)",
}
REPORT_COLUMNS = ["ack_seconds", "resolve_seconds", "acknowledged_at", "ack_due_at", "escalation_count"]


def drop_statistics(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite's planner has nothing of the kind
    for name in BUCKET_STATISTICS:
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {name}")


def create_statistics(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, expression in BUCKET_STATISTICS.items():
        schema_editor.execute(
            f"CREATE STATISTICS IF NOT EXISTS {name} ON ({expression}) FROM incidents_incident"
        )
    schema_editor.execute("ANALYZE incidents_incident")


def whole_seconds(later):
    return models.GeneratedField(
        db_persist=True,
        expression=incidents.models.WholeSecondsBetween(later, "detected_at"),
        output_field=models.IntegerField(),
    )


def seconds_index(seconds):
    return models.Index(
        # In the order Q(**kwargs) gives the model's.
        condition=models.Q(*sorted({f"{seconds}__isnull": False, "merged_into__isnull": True}.items())),
        fields=[seconds],
        include=("brand", "detected_at", "severity", "category", "channel", "assignee"),
        name=f"incident_{seconds}",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("crisis", "0010_schedule_handoff_clock"),
        ("incidents", "0022_report_seconds_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(drop_statistics, create_statistics, elidable=False),
        migrations.RemoveIndex(model_name="incident", name="incident_report"),
        migrations.RemoveIndex(model_name="incident", name="incident_ack_seconds"),
        migrations.RemoveIndex(model_name="incident", name="incident_statement_seconds"),
        migrations.RemoveField(model_name="incident", name="ack_seconds"),
        migrations.RemoveField(model_name="incident", name="resolve_seconds"),
        migrations.RemoveField(model_name="incident", name="statement_seconds"),
        migrations.AddField(
            model_name="incident", name="ack_seconds", field=whole_seconds("acknowledged_at")
        ),
        migrations.AddField(
            model_name="incident", name="resolve_seconds", field=whole_seconds("resolved_at")
        ),
        migrations.AddField(
            model_name="incident", name="statement_seconds", field=whole_seconds("first_statement_at")
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("merged_into__isnull", True)),
                fields=["brand", "detected_at"],
                include=(*REPORT_COLUMNS, "severity", "category", "channel", "assignee"),
                name="incident_report",
            ),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                condition=models.Q(("merged_into__isnull", True)),
                fields=["brand", "detected_at"],
                include=(*REPORT_COLUMNS, "severity"),
                name="incident_report_narrow",
            ),
        ),
        migrations.AddIndex(model_name="incident", index=seconds_index("ack_seconds")),
        migrations.AddIndex(model_name="incident", index=seconds_index("statement_seconds")),
        migrations.RunPython(create_statistics, drop_statistics, elidable=False),
    ]
