"""
Timeline rows cannot be updated or deleted on PostgreSQL, whatever the client.

The ORM refuses it too (TimelineEvent.save/delete and its queryset), on every
database; this trigger also stops raw SQL, a shell, or a future bug. TRUNCATE
is not a row operation and stays possible for the test suite and for operators.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION incidents_timeline_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'timeline events are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER incidents_timeline_append_only
    BEFORE UPDATE OR DELETE ON incidents_timelineevent
    FOR EACH ROW EXECUTE FUNCTION incidents_timeline_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS incidents_timeline_append_only ON incidents_timelineevent;
DROP FUNCTION IF EXISTS incidents_timeline_append_only();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0004_review_and_follow_ups")]
    operations = [migrations.RunPython(create, drop)]
