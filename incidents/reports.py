"""
Response-time reports (API.md, "Reports"), computed in the database.

Every time is floored to whole seconds from `detected_at` before aggregating (a second
is the finest resolution a manager reads); SLA met or breached is judged on the
timestamps. Merged incidents are left out: their filings count on the target.

A time reported with its percentiles (a `Distribution`: to acknowledge, to the first
public statement) goes through one path, the histogram of its whole seconds per group,
from which its count, mean, p50 and p90 are taken:

1. A first pass, one hash aggregate per figure: per group and bucket of
   `BUCKET_SECONDS` whole seconds, the count and sum of the seconds; figure 0 reads
   every incident and carries the additive figures (counts, sums), the others read only
   the incidents that have their time (no incident is repeated once per figure).
   Buckets keep the hash tables small: one row per incident and second would be as many
   rows as incidents when grouping by day.
2. From the buckets' running counts, Python finds the buckets holding the ranks
   `percentile_cont` reads (floor and ceiling of `fraction * (count - 1)`) for each
   group and for the total.
3. A second pass counts whole seconds (value, count) only inside those buckets: per
   figure, the incidents whose seconds fall in the ranges of buckets needed by any group
   or the total, each then kept only for the (group, bucket) pairs that need it.
4. The percentile is interpolated from those ranks in PostgreSQL's own floating-point
   steps, so it is identical to `percentile_cont` over the same whole seconds
   (tests/incidents/test_report_histogram.py holds it to PostgreSQL's).

Both passes are the same SQL on PostgreSQL and SQLite. On PostgreSQL they are index-only
scans (bench/report.py measures a million incidents): figure 0's first pass of the
covering index `incident_report`; each figure's own partial index (`incident_ack_seconds`,
`incident_statement_seconds`: its seconds first, then what a report filters and groups
on) for the statement figure's first pass and for every second pass, which reads only
the needed ranges of seconds. Statistics on the bucket expressions (migration 0022) let
the planner size the hash tables and aggregate in parallel workers first. Groups are made
on raw columns (brand and assignee ids, and on PostgreSQL the day's index among the
zone's midnights) and named afterwards.
"""

import bisect
import contextlib
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Case, F, Func, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce, TruncDate

from crisis.models import Brand

from .models import Incident


@dataclass(frozen=True)
class Distribution:
    """A time from detection reported as the count, mean, p50 and p90 of its whole seconds."""

    seconds: str  # the float seconds the database stores (PostgreSQL reads them from the index)
    ends_at: str  # the timestamp they run to (SQLite computes exact whole seconds from it)
    count: str
    mean: str
    p50: str
    p90: str


# Adding a timed figure to the reports is one line here (and its fields in `ReportRow`).
DISTRIBUTIONS = (
    Distribution(
        "ack_seconds", "acknowledged_at", "acknowledged", "mtta_seconds", "ack_p50_seconds", "ack_p90_seconds"
    ),
    Distribution(
        "statement_seconds",
        "first_statement_at",
        "with_statement",
        "statement_mean_seconds",
        "statement_p50_seconds",
        "statement_p90_seconds",
    ),
)
FRACTIONS = (0.5, 0.9)
# Width of the first pass's buckets. A year's day groups (~2,500 incidents each over
# hours of acknowledge times) then give ~90 buckets a day, and each needed bucket a few
# dozen distinct seconds in the second pass: both stay small.
BUCKET_SECONDS = 256
# Needed buckets are sent as row values; more than this per statement are sent in
# several second passes (a century of days: SQLite takes at most 32,766 parameters).
NEEDED_PER_PASS = 3000

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
# For the report's transaction only. Left to itself the planner read a year of
# incidents with a sequential or bitmap scan of the wide rows (docs/benchmarks.md, report)
# where the covering `incident_report` index, which holds every column a report
# reads, is the cheapest read (an index-only scan); those two are switched off (the
# planner still falls back to them if that index were missing). JIT costs more than
# it saves here. Sorting is off too: without statistics the planner cannot estimate how
# many buckets an expression makes (it guessed 1.7 million for 1,567) and sorted a million
# rows, on disk, to group them, where a hash table of the real groups is small. The bucket
# expressions now have statistics (migration 0022); a day's index among the zone's
# midnights cannot, so grouping by day still rests on this. Parallel workers are the
# server's own settings.
REPORT_WORK_MEM = "64MB"
PLANNER_SETTINGS = """
    SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true),
           set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),
           set_config('enable_sort', 'off', true)
"""


class WholeSeconds(Func):
    """
    Whole seconds from `detected_at` to `later`, floored; null if `later` is.

    PostgreSQL floors the stored float seconds (exact: an epoch difference in
    microseconds is never within rounding of the next second). SQLite's `julianday`
    keeps milliseconds only, so there the difference is made exactly from the stored
    text ('YYYY-MM-DD HH:MM:SS[.ffffff]'): the whole seconds of each, less one when the
    later fraction is the smaller.
    """

    output_field = IntegerField()

    def __init__(self, stored: str, later: str):
        super().__init__(F(stored), F(later), F("detected_at"))

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"floor({sql})", params

    def as_sqlite(self, compiler, connection, **extra):
        later, later_params = compiler.compile(self.source_expressions[1])
        earlier, earlier_params = compiler.compile(self.source_expressions[2])

        def micros(text):
            return f"CAST(substr(substr({text}, 21) || '000000', 1, 6) AS INTEGER)"

        sql = (
            f"(CAST(round((julianday(substr({later}, 1, 19)) - julianday(substr({earlier}, 1, 19)))"
            f" * 86400) AS INTEGER) - ({micros(later)} < {micros(earlier)}))"
        )
        return sql, (*later_params, *earlier_params, *later_params, *earlier_params)


class DayIndex(Func):
    """
    Which of the zone's days `detected_at` falls on, on PostgreSQL: its index among the
    days' first instants (`width_bucket`, a binary search; several times cheaper per row
    than converting every timestamp to the zone).
    """

    output_field = IntegerField()

    def __init__(self, starts: list[datetime]):
        self.starts = starts
        super().__init__(F("detected_at"))

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"width_bucket({sql}, %s::timestamptz[])", (*params, self.starts)


def _day_starts(since: datetime, until: datetime, zone: ZoneInfo) -> list[datetime]:
    """The first instant of each of the zone's days from `since`'s to `until`'s, and of the day after."""
    first, last = since.astimezone(zone).date(), until.astimezone(zone).date()
    return [
        datetime.combine(first + timedelta(days=i), time(0), zone) for i in range((last - first).days + 2)
    ]


def _group_key(group_by: str, starts: list[datetime], zone: ZoneInfo):
    if group_by == "day":
        return (
            DayIndex(starts) if connection.vendor == "postgresql" else TruncDate("detected_at", tzinfo=zone)
        )
    if group_by == "assignee":
        # Not null: the second pass finds groups by row value, which never matches a null.
        return Coalesce("assignee_id", 0)
    return F({"brand": "brand_id"}.get(group_by, group_by))


def _incidents(*, brand_ids, since, until, group_by: str, starts, zone, now: datetime, figure: int | None):
    """
    The counted incidents (a queryset of values): group key and, for `figure` None, every
    incident with its additive columns and each distribution's whole seconds (`d0`, `d1`…);
    for a figure number, only the incidents that have that time, with its whole seconds
    (`seconds`) and the stored float (`stored`, which the second pass filters on).
    """
    incidents = (
        Incident.objects.for_brands(brand_ids)
        .filter(detected_at__gte=since, detected_at__lt=until, merged_into__isnull=True)
        .order_by()
        .annotate(group_key=_group_key(group_by, starts, zone))
    )
    if figure is not None:
        distribution = DISTRIBUTIONS[figure]
        return (
            incidents.filter(**{f"{distribution.seconds}__isnull": False})
            .annotate(
                seconds=WholeSeconds(distribution.seconds, distribution.ends_at),
                # SQLite's stored float is julianday's (milliseconds): there the exact seconds.
                stored=F(distribution.seconds)
                if connection.vendor == "postgresql"
                else WholeSeconds(distribution.seconds, distribution.ends_at),
            )
            .values("group_key", "seconds", "stored")
        )
    met = Q(acknowledged_at__lte=F("ack_due_at"))
    breached = Q(acknowledged_at__gt=F("ack_due_at")) | Q(acknowledged_at__isnull=True, ack_due_at__lt=now)
    return incidents.annotate(
        resolve_s=WholeSeconds("resolve_seconds", "resolved_at"),
        met=Case(When(met, then=Value(1)), default=Value(0)),
        breached=Case(When(breached, then=Value(1)), default=Value(0)),
        seconds=WholeSeconds(DISTRIBUTIONS[0].seconds, DISTRIBUTIONS[0].ends_at),
    ).values("group_key", "seconds", "resolve_s", "met", "breached", "escalation_count")


def _buckets_sql(**where) -> tuple[str, list]:
    """
    The first pass (SQL, params): one aggregate per figure, each over only the incidents
    that have its time (on PostgreSQL a scan of that figure's own narrow index), so no
    incident is repeated per figure. Figure 0 reads every incident (its seconds null when
    not acknowledged yet) and carries the additive figures.
    """
    branches, params = [], []
    for figure in range(len(DISTRIBUTIONS)):
        sql, branch_params = _incidents(
            **where, figure=None if figure == 0 else figure
        ).query.sql_with_params()
        additive = ADDITIVE_SQL if figure == 0 else ", 0, 0, 0, 0, 0"
        branches.append(
            BUCKETS_SQL.format(incidents=sql, figure=figure, width=BUCKET_SECONDS, additive=additive)
        )
        params += branch_params
    return " UNION ALL ".join(branches), params


# Only our own names and numbers are formatted into these; every value is a parameter.
BUCKETS_SQL = """
SELECT group_key, {figure} AS figure, floor(seconds / {width}) AS bucket, count(*), sum(seconds){additive}
FROM ({incidents}) AS incident
GROUP BY group_key, floor(seconds / {width})
"""
ADDITIVE_SQL = ", count(resolve_s), sum(resolve_s), sum(met), sum(breached), sum(escalation_count)"
# One figure's incidents whose seconds are in the needed buckets: a join with the buckets'
# bounds on the stored float (whole seconds in [lo, hi) exactly when the float is, lo and
# hi being whole), so PostgreSQL reads only those ranges of the figure's index.
NEEDED_SQL = """
SELECT incident.group_key, {figure} AS figure, floor(incident.seconds / {width}) AS bucket, incident.seconds
FROM ({incidents}) AS incident
JOIN (VALUES {ranges}) AS ranges ON incident.stored >= ranges.column1 AND incident.stored < ranges.column2
"""
# `mine`: the incident is in a bucket its group needs (a hash join with those buckets'
# row values, named column1… on both databases); otherwise it is there only for the
# total, and is counted without its group (one row per second, however many groups).
SECONDS_SQL = """
SELECT CASE WHEN mine.column1 IS NOT NULL THEN spread.group_key END, mine.column1 IS NOT NULL,
       spread.figure, spread.bucket, spread.seconds, count(*)
FROM ({spread}) AS spread
LEFT JOIN (VALUES {mine}) AS mine
       ON mine.column1 = spread.group_key AND mine.column2 = spread.figure AND mine.column3 = spread.bucket
WHERE mine.column1 IS NOT NULL {or_total}
GROUP BY 1, 2, spread.figure, spread.bucket, spread.seconds
"""
TOTAL_SQL = "OR (spread.figure, spread.bucket) IN (VALUES {})"


def response_times(
    *, brand_ids, since: datetime, until: datetime, group_by: str, now: datetime, tz: str = "UTC"
) -> dict:
    """Totals and one row per group for the incidents detected in [since, until); days in zone `tz`."""
    groups, total = gathered(brand_ids=brand_ids, since=since, until=until, group_by=group_by, now=now, tz=tz)
    names = _names(group_by, groups)
    rows = sorted(
        ({"key": names.get(key, _key_text(key)), **_finish(row)} for key, row in groups.items()),
        key=lambda row: (row["key"] is None, row["key"] or ""),
    )
    return {"since": since, "until": until, "total": _finish(total), "groups": rows}


def gathered(*, brand_ids, since: datetime, until: datetime, group_by: str, now: datetime, tz: str = "UTC"):
    """
    ({group key: sums}, total sums) before rounding: the additive figures, and per
    distribution a `Histogram` (exact percentiles: `Histogram.percentiles()`).
    """
    zone = ZoneInfo(tz)
    starts = _day_starts(since, until, zone)
    where = {
        "brand_ids": brand_ids,
        "since": since,
        "until": until,
        "group_by": group_by,
        "starts": starts,
        "zone": zone,
        "now": now,
    }
    with _one_snapshot() as cursor:
        cursor.execute(*_buckets_sql(**where))
        groups, total = _sum_buckets(cursor.fetchall())
        _count_needed_seconds(cursor, where, groups, total)
    if group_by == "day" and connection.vendor == "postgresql":
        groups = {starts[key - 1].date(): row for key, row in groups.items()}
    return groups, total


@contextlib.contextmanager
def _one_snapshot():
    """
    A cursor whose statements all see the same committed data: the second pass must count
    the incidents the first one did. PostgreSQL: a repeatable-read transaction with the
    report's planner settings. SQLite (WAL): a deferred read transaction; Django's own
    would begin IMMEDIATE and hold the write lock (the clock, filing) for the report.
    Inside a caller's transaction, that one's.
    """
    nested = connection.in_atomic_block
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            if not nested:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute(PLANNER_SETTINGS, [REPORT_WORK_MEM])
            yield cursor
        return
    with connection.cursor() as cursor:
        if nested:
            yield cursor
            return
        cursor.execute("BEGIN DEFERRED")
        try:
            yield cursor
        finally:
            cursor.execute("COMMIT")


ADDITIVE = ("incidents", "resolved", "resolve_sum", "ack_sla_met", "ack_sla_breached", "escalations")


class Histogram:
    """One figure's whole seconds in one group: counts per bucket, then per second where needed."""

    def __init__(self):
        self.count = 0
        self.total = 0
        self.buckets: dict[int, int] = defaultdict(int)
        self.seconds: dict[tuple[int, int], int] = defaultdict(int)  # (bucket, second): count
        self._needed: list[int] | None = None

    def add_bucket(self, bucket: int, count: int, seconds_sum: int) -> None:
        self.buckets[bucket] += count
        self.count += count
        self.total += seconds_sum
        self._needed = None

    def needed_buckets(self) -> list[int]:
        """The buckets holding the ranks (0-based, ascending) that percentile_cont reads."""
        if self._needed is None:
            ranks = sorted(self._ranks())
            self._needed, after, at = [], 0, 0
            for bucket in sorted(self.buckets):
                after += self.buckets[bucket]
                if at < len(ranks) and ranks[at] < after:
                    self._needed.append(bucket)
                    while at < len(ranks) and ranks[at] < after:
                        at += 1
        return self._needed

    def _ranks(self) -> set[int]:
        positions = [fraction * (self.count - 1) for fraction in FRACTIONS] if self.count else []
        return {math.floor(p) for p in positions} | {math.ceil(p) for p in positions}

    def percentiles(self) -> list[float | None]:
        """percentile_cont at each of FRACTIONS, from the seconds counted in the needed buckets."""
        if not self.count:
            return [None for _ in FRACTIONS]
        needed = set(self.needed_buckets())
        inside = defaultdict(list)
        for (bucket, second), n in self.seconds.items():
            if bucket in needed:
                inside[bucket].append((second, n))
        bins, before = [], 0  # (first rank, rank past the bin, value)
        for bucket in sorted(self.buckets):
            first = before
            if bucket not in needed:
                before += self.buckets[bucket]
                continue
            for second, n in sorted(inside[bucket]):
                bins.append((before, before + n, float(second)))
                before += n
            if before - first != self.buckets[bucket]:
                raise AssertionError("the second pass counted other incidents than the first")
        return percentiles_from_bins(bins, self.count)

    def mean(self) -> float | None:
        return round(self.total / self.count, 3) if self.count else None


def _empty() -> dict:
    return {**dict.fromkeys(ADDITIVE, 0), "figures": [Histogram() for _ in DISTRIBUTIONS]}


def _sum_buckets(rows) -> tuple[dict, dict]:
    """The first pass's rows as {key: group} and the total (the groups' sums)."""
    groups: dict = {}
    additive: dict = {}  # {key: [the ADDITIVE figures]}, summed as lists, named at the end
    for key, figure, bucket, n, seconds_sum, *rest in rows:
        group = groups.get(key)
        if group is None:
            group = groups[key] = _empty()
            additive[key] = [0] * len(ADDITIVE)
        if bucket is not None:
            group["figures"][figure].add_bucket(int(bucket), n, int(seconds_sum))
        if figure == 0:  # every incident is in figure 0 once
            sums = additive[key]
            for i, value in enumerate((n, *rest)):
                sums[i] += int(value or 0)
    total = _empty()
    for key, group in groups.items():
        for name, value in zip(ADDITIVE, additive[key], strict=True):
            group[name] = value
            total[name] += value
        for histogram, of_total in zip(group["figures"], total["figures"], strict=True):
            for bucket, n in histogram.buckets.items():
                of_total.buckets[bucket] += n
            of_total.count += histogram.count
            of_total.total += histogram.total
    return groups, total


def _count_needed_seconds(cursor, where: dict, groups: dict, total: dict) -> None:
    """Fill each histogram's whole seconds in its needed buckets (the second pass)."""
    mine = [
        (key, figure, bucket)
        for key, row in groups.items()
        for figure, histogram in enumerate(row["figures"])
        for bucket in histogram.needed_buckets()
    ]
    for_total = [
        (figure, bucket)
        for figure, histogram in enumerate(total["figures"])
        for bucket in histogram.needed_buckets()
    ]
    if not for_total:
        return  # no incident has a timed figure
    chunks = [mine[i : i + NEEDED_PER_PASS] for i in range(0, len(mine), NEEDED_PER_PASS)]
    for number, chunk in enumerate(chunks):
        # The first pass alone counts the total's buckets: each incident in them once.
        with_total = number == 0
        branches, params = [], []
        for figure in range(len(DISTRIBUTIONS)):
            buckets = {bucket for _key, f, bucket in chunk if f == figure}
            if with_total:
                buckets |= {bucket for f, bucket in for_total if f == figure}
            if not buckets:
                continue
            ranges = _ranges(buckets)
            sql, incident_params = _incidents(**where, figure=figure).query.sql_with_params()
            branches.append(
                NEEDED_SQL.format(
                    incidents=sql,
                    figure=figure,
                    width=BUCKET_SECONDS,
                    ranges=", ".join(["(%s, %s)"] * len(ranges)),
                )
            )
            params += [*incident_params, *(bound for lo_hi in ranges for bound in lo_hi)]
        sql = SECONDS_SQL.format(
            spread=" UNION ALL ".join(branches),
            mine=", ".join(["(%s, %s, %s)"] * len(chunk)),
            or_total=TOTAL_SQL.format(", ".join(["(%s, %s)"] * len(for_total))) if with_total else "",
        )
        # In the order of their placeholders: the figures' incidents and ranges, the groups'
        # buckets, the total's buckets.
        cursor.execute(
            sql,
            [
                *params,
                *(value for row in chunk for value in row),
                *(value for row in (for_total if with_total else ()) for value in row),
            ],
        )
        for key, is_mine, figure, bucket, seconds, n in cursor.fetchall():
            at = (int(bucket), int(seconds))
            if is_mine:
                groups[key]["figures"][figure].seconds[at] += n
            if with_total:
                total["figures"][figure].seconds[at] += n


def _ranges(buckets: set[int]) -> list[tuple[int, int]]:
    """Whole seconds [lo, hi) covering exactly these buckets, adjacent buckets in one range."""
    ranges: list[list[int]] = []
    for bucket in sorted(buckets):
        if ranges and ranges[-1][1] == bucket * BUCKET_SECONDS:
            ranges[-1][1] += BUCKET_SECONDS
        else:
            ranges.append([bucket * BUCKET_SECONDS, (bucket + 1) * BUCKET_SECONDS])
    return [(lo, hi) for lo, hi in ranges]


def percentiles_from_bins(bins: list[tuple[int, int, float]], count: int) -> list[float]:
    """
    percentile_cont at each of FRACTIONS over `count` values, from bins (first rank, rank
    past the bin, value) covering at least the ranks it reads. The same steps as
    PostgreSQL (`percentile_cont_final_common`, `float8_lerp`), so the same double.
    """
    starts = [first for first, _upto, _value in bins]

    def value_at(rank: int) -> float:
        first, upto, value = bins[bisect.bisect_right(starts, rank) - 1]
        if not first <= rank < upto:
            raise AssertionError(f"rank {rank} is in no bin counted")
        return value

    results = []
    for fraction in FRACTIONS:
        position = fraction * (count - 1)
        lower = math.floor(position)
        low, high = value_at(lower), value_at(math.ceil(position))
        results.append(low + ((position - lower) * (high - low)))
    return results


def percentile_cont(sorted_values: list[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont over a sorted list (what the histogram path must equal)."""
    if not sorted_values:
        return None
    position = fraction * (len(sorted_values) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    low, high = sorted_values[lower], sorted_values[upper]
    return low + ((position - lower) * (high - low))


def _names(group_by: str, groups: dict) -> dict:
    """Slugs and usernames for the brand and assignee ids the groups were made on."""
    ids = [key for key in groups if key]
    if group_by == "brand":
        return dict(Brand.objects.filter(pk__in=ids).values_list("pk", "slug"))
    if group_by == "assignee":
        return {0: None, **dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))}
    return {}


def _finish(row: dict) -> dict:
    def mean(total, count):
        return round(total / count, 3) if count else None

    judged = row["ack_sla_met"] + row["ack_sla_breached"]
    answer = {"incidents": row["incidents"]}
    for distribution, histogram in zip(DISTRIBUTIONS, row["figures"], strict=True):
        p50, p90 = (None if p is None else round(p, 3) for p in histogram.percentiles())
        answer |= {
            distribution.count: histogram.count,
            distribution.mean: histogram.mean(),
            distribution.p50: p50,
            distribution.p90: p90,
        }
    answer |= {
        "mttr_seconds": mean(row["resolve_sum"], row["resolved"]),
        "ack_sla_met": row["ack_sla_met"],
        "ack_sla_breached": row["ack_sla_breached"],
        "ack_sla_met_ratio": round(row["ack_sla_met"] / judged, 4) if judged else None,
        "escalations": row["escalations"],
    }
    return {name: answer[name] for name in METRICS}


def _key_text(key) -> str | None:
    if key is None or key == "":
        return None
    return key.isoformat() if isinstance(key, date) else str(key)
