"""
Response-time reports (API.md, "Reports"), computed in the database.

Times to acknowledge and resolve count from `detected_at`. On PostgreSQL the
percentiles are `percentile_cont` in the same grouped query; SQLite has no
ordered-set aggregates, so there the acknowledge times of each group are
fetched and the same interpolation is done in Python.
"""

import math
from collections import defaultdict
from datetime import UTC, datetime

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
)
from django.db.models.functions import TruncDate

from .models import Escalation, Incident

GROUP_BY = ("brand", "severity", "category", "assignee", "channel", "day")
METRICS = ("incidents", "acknowledged", "mtta_seconds", "ack_p50_seconds", "ack_p90_seconds",
           "mttr_seconds", "ack_sla_met", "ack_sla_breached", "ack_sla_met_ratio", "escalations")


class Epoch(Func):
    """Seconds in a PostgreSQL interval."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


class PercentileCont(Aggregate):
    """PostgreSQL's `percentile_cont(p) WITHIN GROUP (ORDER BY expr)`."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float):
        super().__init__(expression, fraction=float(fraction))


def _group_key(group_by: str, prefix: str = ""):
    if group_by == "day":
        return TruncDate(f"{prefix}detected_at", tzinfo=UTC)
    field = {"brand": "brand__slug", "assignee": "assignee__username"}.get(group_by, group_by)
    return F(f"{prefix}{field}")


def response_times(*, brand_ids, since: datetime, until: datetime, group_by: str,
                   now: datetime) -> dict:
    """Totals and one row per group for the incidents detected in [since, until)."""
    incidents = Incident.all_brands.filter(brand_id__in=list(brand_ids), detected_at__gte=since,
                                           detected_at__lt=until)
    groups = {
        row.pop("key"): row
        for row in incidents.values(key=_group_key(group_by)).annotate(**_aggregates(now))
        .order_by("key")
    }
    total = incidents.aggregate(**_aggregates(now))
    if connection.vendor != "postgresql":
        _percentiles_in_python(incidents, group_by, groups, total)
    escalations = _escalations(incidents, group_by)
    rows = []
    for key, row in groups.items():
        rows.append({"key": _key_text(key), **_finish(row, escalations.get(key, 0))})
    return {"since": since, "until": until,
            "total": _finish(total, sum(escalations.values())), "groups": rows}


def _aggregates(now: datetime) -> dict:
    ack = ExpressionWrapper(F("acknowledged_at") - F("detected_at"), output_field=DurationField())
    resolve = ExpressionWrapper(F("resolved_at") - F("detected_at"), output_field=DurationField())
    met = Q(acknowledged_at__isnull=False, acknowledged_at__lte=F("ack_due_at"))
    breached = Q(acknowledged_at__gt=F("ack_due_at")) | Q(acknowledged_at__isnull=True,
                                                          ack_due_at__lt=now)
    aggregates = {
        "incidents": Count("id"),
        "acknowledged": Count("acknowledged_at"),
        "mtta": Avg(ack),
        "mttr": Avg(resolve),
        "ack_sla_met": Count("id", filter=met),
        "ack_sla_breached": Count("id", filter=breached),
    }
    if connection.vendor == "postgresql":
        aggregates["ack_p50_seconds"] = PercentileCont(Epoch(ack), 0.5)
        aggregates["ack_p90_seconds"] = PercentileCont(Epoch(ack), 0.9)
    return aggregates


def _escalations(incidents: QuerySet, group_by: str) -> dict:
    rows = (Escalation.all_brands.filter(incident__in=incidents)
            .values(key=_group_key(group_by, "incident__")).annotate(n=Count("id")))
    return {row["key"]: row["n"] for row in rows}


def _percentiles_in_python(incidents: QuerySet, group_by: str, groups: dict, total: dict) -> None:
    durations = defaultdict(list)
    rows = (incidents.filter(acknowledged_at__isnull=False)
            .values_list(_group_key(group_by), "acknowledged_at", "detected_at"))
    for key, acknowledged_at, detected_at in rows.iterator():
        durations[key].append((acknowledged_at - detected_at).total_seconds())
    everything = sorted(d for values in durations.values() for d in values)
    total["ack_p50_seconds"], total["ack_p90_seconds"] = (
        percentile_cont(everything, 0.5), percentile_cont(everything, 0.9))
    for key, row in groups.items():
        values = sorted(durations.get(key, []))
        row["ack_p50_seconds"] = percentile_cont(values, 0.5)
        row["ack_p90_seconds"] = percentile_cont(values, 0.9)


def percentile_cont(sorted_values: list[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    if not sorted_values:
        return None
    position = fraction * (len(sorted_values) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    weight = position - lower
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * weight


def _finish(row: dict, escalations: int) -> dict:
    def seconds(value):
        if value is None:
            return None
        value = value.total_seconds() if hasattr(value, "total_seconds") else value
        return round(value, 3)

    judged = row["ack_sla_met"] + row["ack_sla_breached"]
    return {
        "incidents": row["incidents"],
        "acknowledged": row["acknowledged"],
        "mtta_seconds": seconds(row["mtta"]),
        "ack_p50_seconds": seconds(row["ack_p50_seconds"]),
        "ack_p90_seconds": seconds(row["ack_p90_seconds"]),
        "mttr_seconds": seconds(row["mttr"]),
        "ack_sla_met": row["ack_sla_met"],
        "ack_sla_breached": row["ack_sla_breached"],
        "ack_sla_met_ratio": round(row["ack_sla_met"] / judged, 4) if judged else None,
        "escalations": escalations,
    }


def _key_text(key) -> str | None:
    if key is None or key == "":
        return None
    return key.isoformat() if hasattr(key, "isoformat") else str(key)
