"""System checks: what the desk needs from its environment, said at start-up, not at the first 500."""

import sqlite3

from django.core.checks import Error, register
from django.db import connections

# RETURNING: mention intake stores new mentions with INSERT … RETURNING, filing reads the
# ids of a new incident's checklist steps back from the bulk insert, and a duplicate
# report is counted and read back by one UPDATE … RETURNING.
SQLITE_RETURNING = (3, 35)


@register()
def sqlite_supports_returning(
    app_configs=None, *, version=sqlite3.sqlite_version_info, vendors=None, **kwargs
):
    vendors = vendors if vendors is not None else {connections[a].vendor for a in connections}
    if "sqlite" not in vendors or version >= SQLITE_RETURNING:
        return []
    return [
        Error(
            f"SQLite {'.'.join(map(str, version))} is too old: the desk needs SQLite "
            f"{'.'.join(map(str, SQLITE_RETURNING))} or newer (INSERT and UPDATE … RETURNING).",
            hint="Use a Python built with a newer SQLite, or PostgreSQL (DATABASE_URL).",
            id="crisis.E001",
        )
    ]
