"""
Response-time reports (API.md, "Reports"), computed in the database.

Times to acknowledge, to resolve and to the first public statement count from
`detected_at`. They are stored on the incident by the database (`ack_seconds`,
`resolve_seconds`, `statement_seconds`), as is the number of
escalations (`escalation_count`), and on PostgreSQL the covering index
`incident_report` holds every column a report reads: a report is then one
index-only scan for the groups plus one sort for the overall percentiles
(bench/report.py measures it over a million incidents). Groups are made on raw
columns (brand and assignee ids) and named afterwards, so no join and no
collation-aware sort of names is needed.

On PostgreSQL the percentiles are `percentile_cont` in the grouped query; SQLite has
no ordered-set aggregates, so there the acknowledge (and statement) times of each group
are fetched and the same interpolation is done in Python.
"""

import contextlib
import math
from collections import defaultdict
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.contrib.postgres.fields import ArrayField
from django.db import connection, transaction
from django.db.models import Aggregate, Count, F, FloatField, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from crisis.models import Brand

from .models import Incident

GROUP_BY = ("brand", "severity", "category", "assignee", "channel", "day")
METRICS = (
    "incidents",
    "acknowledged",
    "mtta_seconds",
    "ack_p50_seconds",
    "ack_p90_seconds",
    "mttr_seconds",
    "ack_sla_met",
    "ack_sla_breached",
    "ack_sla_met_ratio",
    "escalations",
    "with_statement",
    "statement_mean_seconds",
    "statement_p50_seconds",
    "statement_p90_seconds",
)
# Sorting a year of a big agency's acknowledge times (~1M floats) must stay in memory.
REPORT_WORK_MEM = "128MB"
# For the report's transaction only. Left to itself the planner read a year of
# incidents with a sequential or bitmap scan of the wide rows (docs/benchmarks.md, report)
# where the covering `incident_report` index, which holds every column a report
# reads, is the cheapest read (an index-only scan); those two are switched off (the
# planner still falls back to them if that index were missing). JIT costs more than
# it saves here.
PLANNER_SETTINGS = """
    SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true),
           set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true)
"""


class AckPercentiles(Aggregate):
    """PostgreSQL's p50 and p90 of `ack_seconds` with one sort: `percentile_cont(ARRAY[…])`."""

    template = "percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = ArrayField(FloatField())

    def __init__(self, column="ack_seconds"):
        super().__init__(column)


# Each percentile pair the report gives: the stored column and the row's name for it.
PERCENTILES = {"ack_percentiles": "ack_seconds", "statement_percentiles": "statement_seconds"}


def _group_key(group_by: str):
    if group_by == "day":
        return TruncDate("detected_at", tzinfo=UTC)
    if group_by == "assignee":
        # "+ 0": grouped on the bare column, PostgreSQL walked the heap through the
        # assignee index to get the rows in group order (2.5 s for 1M rows) instead of
        # sorting what the index-only scan read (0.5 s).
        return F("assignee_id") + 0
    return F({"brand": "brand_id"}.get(group_by, group_by))


def response_times(*, brand_ids, since: datetime, until: datetime, group_by: str, now: datetime) -> dict:
    """Totals and one row per group for the incidents detected in [since, until)."""
    incidents = Incident.objects.for_brands(brand_ids).filter(detected_at__gte=since, detected_at__lt=until)
    postgres = connection.vendor == "postgresql"
    # A transaction on PostgreSQL only, for its settings: on SQLite every transaction
    # begins IMMEDIATE and would hold the write lock (the clock, filing) for the report.
    with transaction.atomic() if postgres else contextlib.nullcontext():
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute(PLANNER_SETTINGS, [REPORT_WORK_MEM])
        groups = {
            row.pop("key"): row
            for row in incidents.order_by()
            .values(key=_group_key(group_by))
            .annotate(**_aggregates(now, percentiles=postgres))
        }
        total = {name: sum(row[name] for row in groups.values()) for name in ADDITIVE}
        if postgres:
            total.update(
                incidents.aggregate(**{name: AckPercentiles(column) for name, column in PERCENTILES.items()})
            )
        else:
            _percentiles_in_python(incidents, group_by, groups, total)
    names = _names(group_by, groups)
    rows = sorted(
        ({"key": names.get(key, _key_text(key)), **_finish(row)} for key, row in groups.items()),
        key=lambda row: (row["key"] is None, row["key"] or ""),
    )
    return {"since": since, "until": until, "total": _finish(total), "groups": rows}


ADDITIVE = (
    "incidents",
    "acknowledged",
    "ack_sum",
    "resolved",
    "resolve_sum",
    "ack_sla_met",
    "ack_sla_breached",
    "escalations",
    "with_statement",
    "statement_sum",
)


def _aggregates(now: datetime, *, percentiles: bool) -> dict:
    met = Q(acknowledged_at__lte=F("ack_due_at"))
    breached = Q(acknowledged_at__gt=F("ack_due_at")) | Q(acknowledged_at__isnull=True, ack_due_at__lt=now)
    aggregates = {
        "incidents": Count("*"),
        "acknowledged": Count("ack_seconds"),
        "ack_sum": Sum("ack_seconds", default=0.0),
        "resolved": Count("resolve_seconds"),
        "resolve_sum": Sum("resolve_seconds", default=0.0),
        # Counted over columns of the covering index (not "id"), so it stays index-only.
        "ack_sla_met": Count("ack_seconds", filter=met),
        "ack_sla_breached": Count("ack_due_at", filter=breached),
        "escalations": Sum("escalation_count", default=0),
        "with_statement": Count("statement_seconds"),
        "statement_sum": Sum("statement_seconds", default=0.0),
    }
    if percentiles:
        aggregates.update({name: AckPercentiles(column) for name, column in PERCENTILES.items()})
    return aggregates


def _names(group_by: str, groups: dict) -> dict:
    """Slugs and usernames for the brand and assignee ids the groups were made on."""
    ids = [key for key in groups if key is not None]
    if group_by == "brand":
        return dict(Brand.objects.filter(pk__in=ids).values_list("pk", "slug"))
    if group_by == "assignee":
        return dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
    return {}


def _percentiles_in_python(incidents: QuerySet, group_by: str, groups: dict, total: dict) -> None:
    for name, column in PERCENTILES.items():
        durations = defaultdict(list)
        rows = (
            incidents.filter(**{f"{column}__isnull": False})
            .order_by()
            .values_list(_group_key(group_by), column)
        )
        for key, seconds in rows.iterator():
            durations[key].append(seconds)
        everything = sorted(d for values in durations.values() for d in values)
        total[name] = [percentile_cont(everything, 0.5), percentile_cont(everything, 0.9)]
        for key, row in groups.items():
            values = sorted(durations.get(key, []))
            row[name] = [percentile_cont(values, 0.5), percentile_cont(values, 0.9)]


def percentile_cont(sorted_values: list[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    if not sorted_values:
        return None
    position = fraction * (len(sorted_values) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    weight = position - lower
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * weight


def _finish(row: dict) -> dict:
    def seconds(value):
        return None if value is None else round(value, 3)

    def mean(total, count):
        return round(total / count, 3) if count else None

    p50, p90 = row.get("ack_percentiles") or (None, None)
    statement_p50, statement_p90 = row.get("statement_percentiles") or (None, None)
    judged = row["ack_sla_met"] + row["ack_sla_breached"]
    return {
        "incidents": row["incidents"],
        "acknowledged": row["acknowledged"],
        "mtta_seconds": mean(row["ack_sum"], row["acknowledged"]),
        "ack_p50_seconds": seconds(p50),
        "ack_p90_seconds": seconds(p90),
        "mttr_seconds": mean(row["resolve_sum"], row["resolved"]),
        "ack_sla_met": row["ack_sla_met"],
        "ack_sla_breached": row["ack_sla_breached"],
        "ack_sla_met_ratio": round(row["ack_sla_met"] / judged, 4) if judged else None,
        "escalations": row["escalations"],
        "with_statement": row["with_statement"],
        "statement_mean_seconds": mean(row["statement_sum"], row["with_statement"]),
        "statement_p50_seconds": seconds(statement_p50),
        "statement_p90_seconds": seconds(statement_p90),
    }


def _key_text(key) -> str | None:
    if key is None or key == "":
        return None
    return key.isoformat() if hasattr(key, "isoformat") else str(key)
