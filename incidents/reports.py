"""
Response-time reports (API.md, "Reports"), computed in the database.

Every time is in whole seconds from `detected_at` (the incident's stored `*_seconds`
columns, floored: a second is the finest resolution a manager reads); SLA met or
breached is judged on the timestamps. Merged incidents are left out: their filings count
on the target.

A time reported with its percentiles (a `Distribution`: to acknowledge, to the first
public statement) goes through one path, the histogram of its whole seconds per group,
from which its count, mean, p50 and p90 are taken. Only the few values the percentiles
read ever leave the database:

1. The first statement makes, per figure, a hash aggregate per group and bucket of
   2 ** BUCKET_BITS whole seconds: the count and sum of the seconds; figure 0 reads every
   incident and carries the additive figures (counts, sums), the others read only the
   incidents that have their time (no incident is repeated once per figure). Buckets keep
   the hash tables small: one row per incident and second would be as many rows as
   incidents when grouping by day. Over those buckets, kept in the database, running
   counts find the buckets holding the ranks `percentile_cont` reads (floor and ceiling
   of `fraction * (count - 1)`) for each group and for the total; the statement returns
   those buckets, each with the number of values before it, and each group's sums.
2. The second statement counts whole seconds (value, count) only inside those buckets:
   per figure, the incidents whose seconds fall in the ranges of buckets needed by any
   group or the total, each then kept only for the (group, bucket) pairs that need it;
   running counts again give each second's ranks, and only the seconds at the ranks
   wanted are returned.
3. The percentile is interpolated from those values in PostgreSQL's own floating-point
   steps, so it is identical to `percentile_cont` over the same whole seconds
   (tests/incidents/test_report_histogram.py holds it to PostgreSQL's).

Both statements are the same SQL on PostgreSQL and SQLite. On PostgreSQL they read
index-only scans (bench/report.py measures a million incidents): the first pass of
figure 0 the partial covering index `incident_report_narrow` (by brand or day) or
`incident_report` (the other groupings); each figure's own partial index
(`incident_ack_seconds`, `incident_statement_seconds`: its seconds first, then what a
report filters and groups on) for the statement figure's first pass and for every
second pass, which reads only the needed ranges of seconds. Statistics on the bucket
expressions (migration 0023) let the planner size the hash tables. Groups are made on
raw columns (brand and assignee ids, and on PostgreSQL the day's index among the zone's
midnights) and named afterwards.
"""

import bisect
import contextlib
import math
from dataclasses import dataclass, field
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

    seconds: str  # the incident's stored whole seconds
    ends_at: str  # the timestamp they run to from `detected_at`
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
# Buckets of the first pass: `seconds >> BUCKET_BITS`, 256 whole seconds (a shift floors on
# both databases, as Python's does). A year's day groups (~2,500 incidents each over hours
# of acknowledge times) then give ~90 buckets a day, and each needed bucket a few dozen
# distinct seconds in the second pass: both stay small.
BUCKET_BITS = 8
BUCKET_SECONDS = 1 << BUCKET_BITS
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
# where the covering report indexes, which hold every column a report reads, are the
# cheapest read (an index-only scan); those two are switched off (the planner still falls
# back to them if the indexes were missing). JIT costs more than it saves here. Sorting is
# off too: a day's index among the zone's midnights has no statistics (the bucket
# expressions do, migration 0023), so the planner cannot estimate how many groups days
# make and would sort a million rows, on disk, to group them, where a hash table of the
# real groups is small. Parallel workers are the server's own settings.
REPORT_WORK_MEM = "64MB"
PLANNER_SETTINGS = """
    SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true),
           set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),
           set_config('enable_sort', 'off', true)
"""


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
    incident with its additive columns and the first distribution's whole seconds
    (`seconds`, null when not acknowledged yet); for a figure number, only the incidents
    that have that time, with its whole seconds.
    """
    incidents = (
        Incident.objects.for_brands(brand_ids)
        .filter(detected_at__gte=since, detected_at__lt=until, merged_into__isnull=True)
        .order_by()
        .annotate(group_key=_group_key(group_by, starts, zone))
    )
    if figure is not None:
        column = DISTRIBUTIONS[figure].seconds
        return (
            incidents.filter(**{f"{column}__isnull": False})
            .annotate(seconds=F(column))
            .values("group_key", "seconds")
        )
    met = Q(acknowledged_at__lte=F("ack_due_at"))
    breached = Q(acknowledged_at__gt=F("ack_due_at")) | Q(acknowledged_at__isnull=True, ack_due_at__lt=now)
    return incidents.annotate(
        seconds=F(DISTRIBUTIONS[0].seconds),
        resolve_s=F("resolve_seconds"),
        met=Case(When(met, then=Value(1)), default=Value(0)),
        breached=Case(When(breached, then=Value(1)), default=Value(0)),
    ).values("group_key", "seconds", "resolve_s", "met", "breached", "escalation_count")


def _buckets_sql(**where) -> tuple[str, list]:
    """
    The first pass's buckets (SQL, params): one aggregate per figure, each over only the
    incidents that have its time (on PostgreSQL a scan of that figure's own narrow
    index), so no incident is repeated per figure. Figure 0 reads every incident (its
    bucket null when not acknowledged yet) and carries the additive figures.
    """
    branches, params = [], []
    for figure in range(len(DISTRIBUTIONS)):
        sql, branch_params = _incidents(
            **where, figure=None if figure == 0 else figure
        ).query.sql_with_params()
        additive = ADDITIVE_SQL if figure == 0 else ", 0, 0, 0, 0, 0"
        branches.append(BUCKETS_SQL.format(incidents=sql, figure=figure, bits=BUCKET_BITS, additive=additive))
        params += branch_params
    return " UNION ALL ".join(branches), params


# Only our own names and numbers are formatted into these; every value is a parameter.
BUCKETS_SQL = """
SELECT group_key, {figure} AS figure, seconds >> {bits} AS bucket,
       count(*) AS n, sum(seconds) AS seconds_sum{additive}
FROM ({incidents}) AS incident
GROUP BY group_key, seconds >> {bits}
"""
ADDITIVE_SQL = (
    ", count(resolve_s) AS resolved, sum(resolve_s) AS resolve_sum, sum(met) AS met,"
    " sum(breached) AS breached, sum(escalation_count) AS escalations"
)
# Whether one of the ranks percentile_cont reads at FRACTIONS, among `counted` values, is
# in [upto - n, upto) (a bucket's or a second's ranks, from the running count `upto` and
# its own `n`): floor and ceiling of fraction * (counted - 1), in the same
# floating-point steps as PostgreSQL's. Its parameters: RANK_PARAMS.
HOLDS_A_RANK = " OR ".join(
    "({rank} >= upto - n AND {rank} < upto)".replace(
        "{rank}", f"{rounding}(%s * CAST(counted - 1 AS DOUBLE PRECISION))"
    )
    for _fraction in FRACTIONS
    for rounding in ("floor", "ceil")
)
RANK_PARAMS = [fraction for fraction in FRACTIONS for _placeholder in range(4)]
# The first pass: each group's sums per figure (`kind` 2), and the buckets holding a
# wanted rank of a group (0) or of the total (1), with the number of values before them.
RANKED_BUCKETS_SQL = """
WITH buckets AS MATERIALIZED ({buckets}),
histograms AS (
    SELECT 0 AS is_total, group_key, figure, bucket, n FROM buckets WHERE bucket IS NOT NULL
    UNION ALL
    SELECT 1, NULL, figure, bucket, sum(n) FROM buckets WHERE bucket IS NOT NULL GROUP BY figure, bucket
),
running AS (
    SELECT is_total, group_key, figure, bucket, n,
           CAST(sum(n) OVER (PARTITION BY is_total, group_key, figure ORDER BY bucket
                             ROWS UNBOUNDED PRECEDING) AS BIGINT) AS upto,
           CAST(sum(n) OVER (PARTITION BY is_total, group_key, figure) AS BIGINT) AS counted
    FROM histograms
)
SELECT is_total AS kind, group_key, figure, bucket, upto - n, counted, 0, 0, 0, 0, 0, 0, 0
FROM running WHERE {holds_a_rank}
UNION ALL
SELECT 2, group_key, figure, NULL, sum(CASE WHEN bucket IS NULL THEN 0 ELSE n END), sum(seconds_sum), sum(n),
       sum(resolved), sum(resolve_sum), sum(met), sum(breached), sum(escalations), 0
FROM buckets GROUP BY group_key, figure
"""
# One figure's incidents whose seconds are in the needed buckets: a join with the buckets'
# bounds, so PostgreSQL reads only those ranges of the figure's index.
NEEDED_SQL = """
SELECT incident.group_key, {figure} AS figure, incident.seconds
FROM ({incidents}) AS incident
JOIN (VALUES {ranges}) AS ranges ON incident.seconds >= ranges.column1 AND incident.seconds < ranges.column2
"""
# The second pass: whole seconds counted in the buckets a group needs (`mine`, found by
# row value: those rows keep their group) or only the total needs (counted without their
# group: one row per second, however many groups); then, per group's and the total's
# bucket, running counts give each second's ranks, and only the seconds holding a wanted
# rank are returned with the ranks they hold.
RANKED_SECONDS_SQL = """
WITH mine(group_key, figure, bucket, before, counted) AS (VALUES {mine}),{total_needed}
seconds AS MATERIALIZED (
    SELECT CASE WHEN mine.group_key IS NOT NULL THEN spread.group_key END AS group_key,
           mine.group_key IS NOT NULL AS is_mine, spread.figure, spread.seconds >> {bits} AS bucket,
           spread.seconds, count(*) AS n
    FROM ({spread}) AS spread
    LEFT JOIN mine ON mine.group_key = spread.group_key AND mine.figure = spread.figure
                  AND mine.bucket = spread.seconds >> {bits}
    WHERE mine.group_key IS NOT NULL {or_total}
    GROUP BY 1, 2, spread.figure, spread.seconds
),
ranked AS (
    SELECT 0 AS is_total, seconds.group_key, seconds.figure, seconds.seconds, seconds.n, mine.counted,
           mine.before + CAST(sum(seconds.n) OVER (
               PARTITION BY seconds.group_key, seconds.figure, seconds.bucket ORDER BY seconds.seconds
               ROWS UNBOUNDED PRECEDING) AS BIGINT) AS upto
    FROM seconds JOIN mine ON mine.group_key = seconds.group_key AND mine.figure = seconds.figure
                          AND mine.bucket = seconds.bucket
    WHERE seconds.is_mine
    {total}
)
SELECT is_total, group_key, figure, upto - n, upto, seconds FROM ranked WHERE {holds_a_rank}
"""
TOTAL_NEEDED_SQL = """
total(figure, bucket, before, counted) AS (VALUES {needed}),"""
OR_TOTAL_SQL = "OR (spread.figure, spread.seconds >> {bits}) IN (SELECT figure, bucket FROM total)"
TOTAL_SQL = """
    UNION ALL
    SELECT 1, NULL, per_second.figure, per_second.seconds, per_second.n, total.counted,
           total.before + CAST(sum(per_second.n) OVER (
               PARTITION BY per_second.figure, per_second.bucket ORDER BY per_second.seconds
               ROWS UNBOUNDED PRECEDING) AS BIGINT)
    FROM (SELECT figure, bucket, seconds, sum(n) AS n FROM seconds
          GROUP BY figure, bucket, seconds) AS per_second
    JOIN total ON total.figure = per_second.figure AND total.bucket = per_second.bucket
"""


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
        groups, total, needed = _first_pass(cursor, where)
        _second_pass(cursor, where, needed, groups, total)
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


@dataclass
class Histogram:
    """
    One figure's whole seconds in one group (or the total): how many, their sum, and the
    values at the ranks its percentiles read, as bins (first rank, rank past the bin, value).
    """

    count: int = 0
    total: int = 0
    bins: list[tuple[int, int, float]] = field(default_factory=list)

    def percentiles(self) -> list[float | None]:
        """percentile_cont at each of FRACTIONS."""
        if not self.count:
            return [None for _ in FRACTIONS]
        return percentiles_from_bins(sorted(self.bins), self.count)

    def mean(self) -> float | None:
        return round(self.total / self.count, 3) if self.count else None


def _empty() -> dict:
    return {**dict.fromkeys(ADDITIVE, 0), "figures": [Histogram() for _ in DISTRIBUTIONS]}


@dataclass(frozen=True)
class Needed:
    """A bucket holding a wanted rank of one group's figure (`is_total` False) or of the total's."""

    is_total: bool
    group_key: object
    figure: int
    bucket: int
    before: int  # values of the group's figure in the buckets below
    counted: int  # values of the group's figure in all


def _first_pass(cursor, where: dict) -> tuple[dict, dict, list[Needed]]:
    """Each group's sums and the total (their sums), and the buckets the second pass counts."""
    buckets, params = _buckets_sql(**where)
    cursor.execute(
        RANKED_BUCKETS_SQL.format(buckets=buckets, holds_a_rank=HOLDS_A_RANK), [*params, *RANK_PARAMS]
    )
    groups: dict = {}
    needed = []
    for kind, key, figure, bucket, *figures in cursor.fetchall():
        if kind == 2:
            counted, seconds_sum, *additive, _ = (int(value or 0) for value in figures)
            group = groups.setdefault(key, _empty())
            group["figures"][figure] = Histogram(count=counted, total=seconds_sum)
            if figure == 0:  # every incident is in figure 0 once
                group.update(zip(ADDITIVE, additive, strict=True))
        else:
            before, counted = (int(value) for value in figures[:2])
            needed.append(Needed(kind == 1, key, figure, int(bucket), before, counted))
    total = _empty()
    for group in groups.values():
        for name in ADDITIVE:
            total[name] += group[name]
        for histogram, of_total in zip(group["figures"], total["figures"], strict=True):
            of_total.count += histogram.count
            of_total.total += histogram.total
    return groups, total, needed


def _second_pass(cursor, where: dict, needed: list[Needed], groups: dict, total: dict) -> None:
    """The values at the wanted ranks of each group's and the total's figures."""
    mine = [n for n in needed if not n.is_total]
    for_total = [n for n in needed if n.is_total]
    if not for_total:
        return  # no incident has a timed figure
    chunks = [mine[i : i + NEEDED_PER_PASS] for i in range(0, len(mine), NEEDED_PER_PASS)]
    for number, chunk in enumerate(chunks):
        # The first statement alone counts the total's buckets: each incident in them once.
        with_total = for_total if number == 0 else []
        branches, params = [], []
        for figure in range(len(DISTRIBUTIONS)):
            ranges = _ranges({n.bucket for n in (*chunk, *with_total) if n.figure == figure})
            if not ranges:
                continue
            sql, incident_params = _incidents(**where, figure=figure).query.sql_with_params()
            branches.append(
                NEEDED_SQL.format(incidents=sql, figure=figure, ranges=", ".join(["(%s, %s)"] * len(ranges)))
            )
            params += [*incident_params, *(bound for lo_hi in ranges for bound in lo_hi)]
        rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
        sql = RANKED_SECONDS_SQL.format(
            spread=" UNION ALL ".join(branches),
            mine=rows,
            total_needed=TOTAL_NEEDED_SQL.format(needed=", ".join(["(%s, %s, %s, %s)"] * len(with_total)))
            if with_total
            else "",
            or_total=OR_TOTAL_SQL.format(bits=BUCKET_BITS) if with_total else "",
            total=TOTAL_SQL if with_total else "",
            bits=BUCKET_BITS,
            holds_a_rank=HOLDS_A_RANK,
        )
        # In the order of their placeholders: the groups' buckets, the total's buckets, the
        # figures' incidents and ranges, the fractions.
        cursor.execute(
            sql,
            [
                *(v for n in chunk for v in (n.group_key, n.figure, n.bucket, n.before, n.counted)),
                *(v for n in with_total for v in (n.figure, n.bucket, n.before, n.counted)),
                *params,
                *RANK_PARAMS,
            ],
        )
        for is_total, key, figure, first, upto, seconds in cursor.fetchall():
            histogram = (total if is_total else groups[key])["figures"][figure]
            histogram.bins.append((int(first), int(upto), float(seconds)))


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
