"""
Benchmark: the response-time report over 1,000,000 incidents, 20 brands, one year.

    .venv/bin/python bench/report.py [--rows N] [--quick] [--reps 5] [--keep-db] [--reuse-db]
                                     [--no-experiments]

The issue's target: one report request <= 500 ms (goal 200 ms) for each `group_by`, on
PostgreSQL, and which indexes make it so. This prints figures; it is not a test.

Setup: database `crisis_bench_report` (dropped, created, migrated); 20 brands, 30
responders (assignees), one manager with role manager in all 20 brands, one superuser.
Then, with `INSERT … SELECT … FROM generate_series`, N incidents detected over the last
365 days in time order (as a live desk inserts them), brands skewed (the biggest ~3x the
smallest), severities 5/20/45/30 % critical/high/medium/low with the default ack SLA
(600/900/3600/14400 s), 8 categories, 13 channels; ~90 % acknowledged 30 s to ~1.6x the
SLA after detection (~20 % of all late), ~80 % resolved; ack escalations (level 1) for
~5 % of incidents, all among the late or unacknowledged ones. `VACUUM ANALYZE` afterwards.

Measured (before each row it waits while bench/filing, escalation_lateness, sweeper_cost,
worker_memory or wrk run on this 2-core machine, or another bench/*.py while the CPU is
busy, and measures a row again if one ran meanwhile; waiting stops 20 min after a phase
started, and rows measured alongside another benchmark are marked *. The background CPU
load is printed too: other processes such as test runs are not waited for):
- `incidents.reports.response_times(...)` in this process (Django on the bench database):
  one warm-up, then median (and min) of --reps warm runs, for every group_by and three
  cases: (a) all 20 brands over the year, (b) the biggest brand over the year, (c) all
  brands over the default last 30 days;
- the same through HTTP: gunicorn (gthread, 1 worker, 2 threads), sequential
  `GET /api/v1/reports/response-times/` as the manager with a knox token, median and
  max of --reps after one warm-up;
- `EXPLAIN (ANALYZE, BUFFERS)` of the queries of the heaviest report, and the indexes used;
- experiments in the bench database only (settings per session, indexes dropped again):
  work_mem, jit, a covering index on (brand_id, detected_at) INCLUDE (…), and prototypes
  of the report's SQL written differently (timed as SQL, summed over its queries).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psycopg

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness
from bench.harness import BenchError, background_load

DATABASE = "crisis_bench_report"
PG_BENCH = harness.pg_conninfo(DATABASE)
TARGET_MS, GOAL_MS = 500.0, 200.0
BRANDS, RESPONDERS = 20, 30
MANAGER, SUPERUSER = "bench-report-manager", "bench-report-admin"
# The issue names these; other bench/*.py scripts (say mentions.py, which itself waits for
# this one) count only while the machine is busy, so two benchmarks never wait for each other.
NAMED_BENCHMARKS = r"bench/(filing|escalation_lateness|sweeper_cost|worker_memory)\.py"
OTHER_BENCHMARKS = r"bench/[A-Za-z0-9_]+\.py"
SELF = "bench/report.py"
COVERING_INDEX = "bench_incident_brand_detected_cover"
COVERED = (
    "id",
    "acknowledged_at",
    "resolved_at",
    "ack_due_at",
    "severity",
    "category",
    "channel",
    "assignee_id",
)
GROUP_BY = ("brand", "severity", "category", "assignee", "channel", "day")
BUDGET_SECONDS = 150 * 60  # includes up to 20 min of waiting in each of the 4 phases
NO_WAIT = False
PHASE = {"deadline": 0.0}  # waiting for other benchmarks stops 20 min after a phase starts


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="incidents to generate")
    parser.add_argument("--reps", type=int, default=5, help="timed runs per measurement")
    parser.add_argument("--quick", action="store_true", help="200,000 rows, 3 reps")
    parser.add_argument("--keep-db", action="store_true", help="leave the bench database behind")
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="use the bench database left by --keep-db if it has --rows incidents",
    )
    parser.add_argument("--no-experiments", action="store_true", help="skip the index/setting trials")
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="smoke test only: do not wait for other benchmarks (unfair figures)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.reps = min(args.rows, 200_000), 3
    return args


def say(text: str = "") -> None:
    print(text, flush=True)


# --- Sharing the machine ------------------------------------------------------------------------


def other_benchmarks() -> list[str]:
    """The named benchmarks and wrk when running; any other bench/*.py only while the CPU is busy."""

    def running(pattern: str) -> list[str]:
        return [line for line in harness.running(pattern) if SELF not in line]

    found = running(NAMED_BENCHMARKS)
    others = [line for line in running(OTHER_BENCHMARKS) if line not in found]
    if others and background_load(1.0) > 0.5:
        found += others
    return found


def wait_for_quiet(phase: str, *, verbose: bool = True) -> float:
    """
    Wait (10 s steps) while another benchmark or wrk runs, but never past the phase's
    deadline (20 min after the phase started); the seconds waited.
    """
    if NO_WAIT:
        if verbose:
            say(f"[{phase}] not waiting for other benchmarks (--no-wait)")
        return 0.0
    started = time.monotonic()
    busy = other_benchmarks()
    while busy and time.monotonic() < PHASE["deadline"]:
        time.sleep(10)
        busy = other_benchmarks()
    waited = time.monotonic() - started
    if verbose or waited >= 5:
        note = f"; the phase's 20 min are over, measuring anyway while {busy} run" if busy else ""
        say(f"[{phase}] waited {waited:.0f} s for other benchmarks{note}")
    return waited


def measured(phase: str, measure) -> tuple[object, bool]:
    """
    (measure(), contended): measured with no other benchmark running before or after it,
    measured again once if one was; contended if one still ran (then the row is marked *).
    """
    for _ in range(2):
        wait_for_quiet(phase, verbose=False)
        result = measure()
        if NO_WAIT or not other_benchmarks():
            return result, False
        if time.monotonic() >= PHASE["deadline"]:
            break
        say(f"[{phase}] another benchmark ran during a measurement; measuring again")
    return result, True


def phase_start(phase: str) -> None:
    PHASE["deadline"] = time.monotonic() + 20 * 60
    wait_for_quiet(phase)
    say(f"[{phase}] background load before start: {background_load():.2f} of {os.cpu_count()} cores")


# --- Data ----------------------------------------------------------------------------------


def existing_rows() -> int | None:
    try:
        with psycopg.connect(PG_BENCH) as conn:
            return conn.execute("SELECT count(*) FROM incidents_incident").fetchone()[0]
    except psycopg.Error:
        return None


INCIDENTS = """
WITH base AS (
    SELECT g,
           %(start)s::timestamptz + (g - 1 + random()) * %(step)s * interval '1 second' AS d,
           random() AS r_brand, random() AS r_sev, random() AS r_cat, random() AS r_ch,
           random() AS r_ack, random() AS r_ackd, random() AS r_res, random() AS r_resd,
           random() AS r_who, random() AS r_state, random() AS r_reach
    FROM generate_series(1, %(n)s) AS g
), sev AS (
    SELECT base.*,
           CASE WHEN r_sev < 0.05 THEN 'critical' WHEN r_sev < 0.25 THEN 'high'
                WHEN r_sev < 0.70 THEN 'medium' ELSE 'low' END AS severity
    FROM base
), sla AS (
    SELECT sev.*,
           CASE severity WHEN 'critical' THEN 600 WHEN 'high' THEN 900
                         WHEN 'medium' THEN 3600 ELSE 14400 END AS ack_s,
           CASE severity WHEN 'critical' THEN 14400 WHEN 'high' THEN 43200
                         WHEN 'medium' THEN 86400 ELSE 259200 END AS res_s
    FROM sev
), acked AS (
    SELECT sla.*, CASE WHEN r_ack < 0.90 THEN d + (30 + r_ackd * r_ackd * 1.6 * ack_s)
                                                  * interval '1 second' END AS ack_raw
    FROM sla
), times AS (
    SELECT acked.*,
           CASE WHEN ack_raw <= %(now)s THEN ack_raw END AS ack_at,
           CASE WHEN ack_raw IS NOT NULL AND r_res < 0.80 / 0.90
                THEN ack_raw + (600 + r_resd * r_resd * 2 * res_s) * interval '1 second' END AS res_raw
    FROM acked
), final AS (
    SELECT times.*, CASE WHEN ack_at IS NOT NULL AND res_raw <= %(now)s THEN res_raw END AS res_at
    FROM times
)
INSERT INTO incidents_incident (
    brand_id, title, description, category, severity, channel, source_url, reach, dedup_key,
    duplicate_count, state, assignee_id, detected_at, created_at, acknowledged_at,
    investigated_at, resolved_at, reviewed_at, ack_due_at, resolve_due_at, escalation_level,
    escalation_count, escalation_chain, resolution)
SELECT (%(brands)s::bigint[])[1 + least(%(nbrands)s - 1, floor(power(r_brand, 1.4) * %(nbrands)s))::int],
       'Crisis ' || g, '',
       (%(categories)s::text[])[1 + floor(r_cat * %(ncategories)s)::int],
       severity,
       (%(channels)s::text[])[1 + floor(r_ch * %(nchannels)s)::int],
       '', floor(power(r_reach, 3) * 5000000)::bigint, '', 0,
       CASE WHEN ack_at IS NULL THEN 'detected'
            WHEN res_at IS NULL THEN CASE WHEN r_state < 0.5 THEN 'acknowledged' ELSE 'investigated' END
            WHEN r_state < 0.7 AND res_at + interval '1 day' <= %(now)s THEN 'reviewed'
            ELSE 'resolved' END,
       CASE WHEN ack_at IS NOT NULL
            THEN (%(responders)s::bigint[])[1 + floor(r_who * %(nresponders)s)::int] END,
       d, d + floor(r_cat * 90) * interval '1 second', ack_at,
       CASE WHEN res_at IS NOT NULL OR (ack_at IS NOT NULL AND r_state >= 0.5)
            THEN ack_at + interval '5 minutes' END,
       res_at,
       CASE WHEN res_at IS NOT NULL AND r_state < 0.7 AND res_at + interval '1 day' <= %(now)s
            THEN res_at + interval '1 day' END,
       d + ack_s * interval '1 second', d + res_s * interval '1 second', 0, 0,
       '{}'::jsonb, CASE WHEN res_at IS NOT NULL THEN 'Handled.' ELSE '' END
FROM final
ORDER BY g
"""

ESCALATIONS = """
INSERT INTO incidents_escalation (incident_id, kind, level, due_at, fired_at, notified)
SELECT id, 'ack', 1, ack_due_at, ack_due_at + (1 + random() * 20) * interval '1 second', '[]'::jsonb
FROM incidents_incident
WHERE (acknowledged_at IS NULL OR acknowledged_at > ack_due_at) AND random() < %(fraction)s
"""


def generate(rows: int, now) -> None:
    """Brands, users and memberships with the ORM; incidents and escalations in SQL."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from crisis.models import Brand, Category, Membership, Role
    from incidents.models import Channel

    user_model = get_user_model()
    brands = Brand.objects.bulk_create(
        Brand(slug=f"brand-{i:02d}", name=f"Brand {i:02d}") for i in range(1, BRANDS + 1)
    )
    responders = user_model.objects.bulk_create(
        user_model(username=f"responder-{i:02d}", email=f"responder-{i:02d}@bench.invalid")
        for i in range(1, RESPONDERS + 1)
    )
    manager = user_model.objects.create_user(MANAGER, email="manager@bench.invalid")
    user_model.objects.create_superuser(SUPERUSER, email="admin@bench.invalid", password=None)
    Membership.all_brands.bulk_create(
        [Membership(brand=b, user=manager, role=Role.MANAGER) for b in brands]
        + [Membership(brand=b, user=r, role=Role.RESPONDER) for b in brands for r in responders]
    )
    year = 365 * 24 * 3600
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.4242)")
        cursor.execute(
            INCIDENTS,
            {
                "start": now - timedelta(seconds=year),
                "now": now,
                "n": rows,
                "step": year / rows,
                "brands": [b.pk for b in brands],
                "nbrands": BRANDS,
                "responders": [r.pk for r in responders],
                "nresponders": RESPONDERS,
                "categories": list(Category.values),
                "ncategories": len(Category.values),
                "channels": list(Channel.values),
                "nchannels": len(Channel.values),
            },
        )
        cursor.execute(
            "SELECT count(*) FROM incidents_incident "
            "WHERE acknowledged_at IS NULL OR acknowledged_at > ack_due_at"
        )
        candidates = cursor.fetchone()[0]
        cursor.execute(ESCALATIONS, {"fraction": min(1.0, 0.05 * rows / max(candidates, 1))})
        cursor.execute(
            "UPDATE incidents_incident i SET escalation_level = 1, escalation_count = 1 "
            "FROM incidents_escalation e "
            "WHERE e.incident_id = i.id"
        )
    with psycopg.connect(PG_BENCH, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def describe():
    """The generated world (brands, manager, biggest brand, data 'now'), with its figures."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from crisis.models import Brand

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT date_trunc('second', max(detected_at)) + interval '1 second' FROM incidents_incident"
        )
        now = cursor.fetchone()[0]
        cursor.execute(
            """
            SELECT count(*), count(acknowledged_at), count(resolved_at),
                   count(*) FILTER (WHERE acknowledged_at > ack_due_at),
                   (SELECT count(*) FROM incidents_escalation),
                   count(*) FILTER (WHERE detected_at >= %s),
                   pg_size_pretty(pg_total_relation_size('incidents_incident')),
                   pg_size_pretty(pg_relation_size('incidents_incident'))
            FROM incidents_incident""",
            [now - timedelta(days=30)],
        )
        n, acked, resolved, late, escalations, recent, total_size, heap_size = cursor.fetchone()
        cursor.execute("SELECT brand_id, count(*) FROM incidents_incident GROUP BY 1 ORDER BY 2 DESC")
        sizes = cursor.fetchall()
        cursor.execute(
            "SELECT current_setting('work_mem'), current_setting('shared_buffers'),"
            " current_setting('jit'), current_setting('max_parallel_workers_per_gather'),"
            " version()"
        )
        settings = cursor.fetchone()
    brands = list(Brand.objects.order_by("pk"))
    biggest = next(b for b in brands if b.pk == sizes[0][0])
    say(
        f"  incidents {n:,}: acknowledged {acked / n:.1%}, resolved {resolved / n:.1%},"
        f" ack late {late / n:.1%}; escalations {escalations:,} ({escalations / n:.1%});"
        f" last 30 days {recent:,}"
    )
    say(
        f"  per brand {sizes[-1][1]:,} … {sizes[0][1]:,} (biggest: {biggest.slug});"
        f" table {heap_size} heap, {total_size} with indexes"
    )
    say(
        f"  PostgreSQL: work_mem {settings[0]}, shared_buffers {settings[1]}, jit {settings[2]},"
        f" max_parallel_workers_per_gather {settings[3]}; {settings[4].split(' on ')[0]}"
    )
    manager = get_user_model().objects.get(username=MANAGER)
    return {"brands": brands, "manager": manager, "biggest": biggest, "now": now}


# --- Timing in this process ------------------------------------------------------------------


def cases(world: dict) -> list[tuple[str, list[int], object, object, dict]]:
    """(label, brand_ids, since, until, HTTP query) of the three cases; None: the default 30 days."""
    all_ids = [b.pk for b in world["brands"]]
    until = world["now"]
    since_year = until - timedelta(days=365)
    year_q = {"since": since_year.isoformat(), "until": until.isoformat()}
    return [
        ("a: 20 brands, year", all_ids, since_year, until, year_q),
        (
            f"b: {world['biggest'].slug}, year",
            [world["biggest"].pk],
            since_year,
            until,
            {**year_q, "brand": world["biggest"].slug},
        ),
        ("c: 20 brands, 30 days", all_ids, None, None, {}),
    ]


def period(since, until):
    from django.utils import timezone

    now = timezone.now()
    if since is None:
        return now - timedelta(days=30), now, now
    return since, until, now


def run_report(brand_ids, since, until, group_by):
    from incidents.reports import response_times

    since, until, now = period(since, until)
    return response_times(brand_ids=brand_ids, since=since, until=until, group_by=group_by, now=now)


def time_function(brand_ids, since, until, group_by, reps) -> dict:
    report = run_report(brand_ids, since, until, group_by)  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run_report(brand_ids, since, until, group_by)
        times.append((time.perf_counter() - t0) * 1000)
    return {
        "fn": statistics.median(times),
        "fn_min": min(times),
        "groups": len(report["groups"]),
        "report": report,
    }


# --- Timing through HTTP -------------------------------------------------------------------------


def time_http(session, url: str, params: dict, reps: int) -> dict:
    def get() -> float:
        t0 = time.perf_counter()
        response = session.get(url, params=params, timeout=120)
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status_code != 200:
            raise BenchError(f"GET {url} {params} -> {response.status_code}: {response.text[:500]}")
        return elapsed

    get()  # warm-up
    times = [get() for _ in range(reps)]
    return {"http": statistics.median(times), "http_max": max(times)}


def http_phase(env: dict, var_dir: Path, world: dict, the_cases, results, reps: int) -> None:
    import requests
    from knox.models import AuthToken

    _, token = AuthToken.objects.create(world["manager"])
    log = var_dir / "gunicorn.log"
    # One worker of two threads, unpinned: the report is one sequential client's request.
    with harness.gunicorn(env, log, workers=1, threads=2, core=None, timeout=120) as (_server, base):
        session = requests.Session()
        session.trust_env = False  # 127.0.0.1 only, never through a proxy
        session.headers["Authorization"] = f"Token {token}"
        url = f"{base}/api/v1/reports/response-times/"
        for label, _ids, _since, _until, query in the_cases:
            for group_by in GROUP_BY:
                timed, busy = measured(
                    "HTTP timing",
                    lambda q=query, g=group_by: time_http(session, url, {**q, "group_by": g}, reps),
                )
                row = results[(label, group_by)]
                row.update(timed, busy=row["busy"] or busy)


# --- SQL: EXPLAIN, timing, prototypes ------------------------------------------------------------


def captured_queries(brand_ids, since, until, group_by) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from incidents.reports import PLANNER_SETTINGS, REPORT_WORK_MEM

    with CaptureQueriesContext(connection) as ctx:
        run_report(brand_ids, since, until, group_by)
    # The report makes its planner settings for its own transaction; the statements are
    # explained and timed one by one, so the same settings are made for the session.
    execute(PLANNER_SETTINGS.replace("true)", "false)"), [REPORT_WORK_MEM])
    return [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith("SELECT") and "set_config(" not in q["sql"]
    ]


def execute(statement: str, params=None, fetch: bool = True):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if fetch else None


def explain(statement: str, params=None) -> list[str]:
    return [row[0] for row in execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)]


def plan_summary(plan: list[str]) -> tuple[float, list[str], list[str]]:
    text = "\n".join(plan)
    ms = float(re.search(r"Execution Time: ([\d.]+) ms", text).group(1))
    indexes = sorted(
        set(re.findall(r"(?:Index(?: Only)? Scan(?: Backward)? using|Bitmap Index Scan on) (\w+)", text))
    )
    nodes = sorted(
        set(
            re.findall(
                r"((?:Parallel )?Seq Scan on \w+|Index Only Scan using \w+|"
                r"Sort Method: [\w -]+?(?:Disk|Memory): \d+kB)",
                text,
            )
        )
    )
    return ms, indexes, nodes


def plans_line(statements: list[str]) -> str:
    """Execution time and indexes of each query, from EXPLAIN ANALYZE."""
    found = [plan_summary(explain(s)) for s in statements]
    return "; ".join(
        f"q{i} {ms:.0f} ms via {', '.join(ix) or 'seq scan'}" for i, (ms, ix, _n) in enumerate(found, 1)
    )


def time_statements(statements: list[tuple[str, dict | None]], reps: int) -> float:
    """Median over reps (after a warm-up) of running the statements one after the other, ms."""

    def once() -> float:
        t0 = time.perf_counter()
        for statement, params in statements:
            execute(statement, params)
        return (time.perf_counter() - t0) * 1000

    once()
    return statistics.median(once() for _ in range(reps))


def prototypes(group_by: str, brand_ids, since, until, now) -> dict[str, list[tuple[str, dict]]]:
    """
    The report's SQL written differently (what reports.py could send), by variant:
    - P1 `EXTRACT(EPOCH …)` (numeric since PostgreSQL 14) replaced by `date_part('epoch', …)`
      (float8), one `percentile_cont(ARRAY[0.5, 0.9])`, escalations joined plainly
      (no `IN (subquery)` over the incidents); still the grouped query and the total;
    - P2 as P1, with the grouped rows and the total from one query, `GROUPING SETS ((key), ())`;
    - P3 the additive metrics (counts, sums of durations; the total is their sum, MTTA/MTTR
      are sum / count) as a hash aggregate, which PostgreSQL may run in parallel, and the
      percentiles alone over the acknowledged rows (GROUPING SETS, two narrow columns).
    """
    key, join = {
        "brand": ("b.slug", "JOIN crisis_brand b ON b.id = i.brand_id"),
        "assignee": ("u.username", "LEFT JOIN auth_user u ON u.id = i.assignee_id"),
        "day": ("(i.detected_at AT TIME ZONE 'UTC')::date", ""),
    }.get(group_by, (f"i.{group_by}", ""))
    params = {"ids": list(brand_ids), "since": since, "until": until, "now": now}
    where = "i.brand_id = ANY(%(ids)s) AND i.detected_at >= %(since)s AND i.detected_at < %(until)s"
    additive = """count(*), count(i.acknowledged_at), sum(i.acknowledged_at - i.detected_at),
        count(i.resolved_at), sum(i.resolved_at - i.detected_at),
        count(*) FILTER (WHERE i.acknowledged_at <= i.ack_due_at),
        count(*) FILTER (WHERE i.acknowledged_at > i.ack_due_at
                         OR (i.acknowledged_at IS NULL AND i.ack_due_at < %(now)s))"""
    pct = (
        "percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY date_part('epoch', i.acknowledged_at"
        " - i.detected_at))"
    )
    escalations = (
        f"SELECT {key}, count(*) FROM incidents_escalation e JOIN incidents_incident i"
        f" ON i.id = e.incident_id {join} WHERE {where} GROUP BY 1"
    )
    base = f"FROM incidents_incident i {join} WHERE {where}"
    grouped = f"SELECT {key}, {additive}, {pct} {base} GROUP BY 1 ORDER BY 1"
    total = f"SELECT {additive}, {pct} {base}"
    one = f"SELECT {key}, {additive}, {pct} {base} GROUP BY GROUPING SETS (({key}), ()) ORDER BY 1"
    hashed = f"SELECT {key}, {additive} {base} GROUP BY 1"
    percentiles = (
        f"SELECT {key}, {pct} {base} AND i.acknowledged_at IS NOT NULL GROUP BY GROUPING SETS (({key}), ())"
    )
    return {
        "P1 date_part, percentile array, plain-join escalations": [
            (grouped, params),
            (total, params),
            (escalations, params),
        ],
        "P2 = P1 + grouped and total in one GROUPING SETS query": [(one, params), (escalations, params)],
        "P3 additive hash aggregate + percentiles-only query": [
            (hashed, params),
            (percentiles, params),
            (escalations, params),
        ],
    }


def floors(case, reps: int) -> str:
    """What any exact live report of the case costs at least: one pass, and one percentile sort."""
    _label, ids, since, until, _ = case
    since, until, _now = period(since, until)
    params = {"ids": list(ids), "since": since, "until": until}
    where = "i.brand_id = ANY(%(ids)s) AND i.detected_at >= %(since)s AND i.detected_at < %(until)s"
    scan = time_statements([(f"SELECT count(*) FROM incidents_incident i WHERE {where}", params)], reps)
    pct = time_statements(
        [
            (
                "SELECT percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY date_part('epoch',"
                f" i.acknowledged_at - i.detected_at)) FROM incidents_incident i WHERE {where}"
                " AND i.acknowledged_at IS NOT NULL",
                params,
            )
        ],
        reps,
    )
    return (
        f"case {case[0][:1]}, SQL (work_mem 64MB, jit off): count(*) of the period {scan:.0f} ms;"
        f" one percentile_cont over its acknowledged rows, no grouping {pct:.0f} ms"
    )


def check_prototype(report: dict, group_by: str, brand_ids, since, until, now) -> str:
    """The P3 total against response_times(): same counts and percentiles, or say what differs."""
    statements = prototypes(group_by, brand_ids, since, until, now)[
        "P3 additive hash aggregate + percentiles-only query"
    ]
    rows = execute(*statements[0])
    pct = {row[0]: row[1] for row in execute(*statements[1])}
    incidents = sum(row[1] for row in rows)
    p50, p90 = pct[None]
    total = report["total"]
    same = (
        incidents == total["incidents"]
        and abs(p50 - total["ack_p50_seconds"]) < 0.01
        and abs(p90 - total["ack_p90_seconds"]) < 0.01
        and len(rows) == len(report["groups"])
    )
    return (
        "same totals and percentiles as response_times()"
        if same
        else f"DIFFERS: {incidents} {p50} {p90} vs {total}"
    )


# --- Main -----------------------------------------------------------------------------------------


def main(argv=None) -> int:
    global NO_WAIT
    args = parse_args(argv)
    NO_WAIT = args.no_wait
    started = time.monotonic()

    harness.arm_budget(BUDGET_SECONDS)
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        var_dir = Path(tmp)
        env = harness.django_env(DATABASE, var_dir)  # no REDIS_URL: the report needs no broker
        harness.setup_django(env)
        from django.db import connection
        from django.utils import timezone

        say(f"== Setup: database {DATABASE}, {args.rows:,} incidents")
        if args.reuse_db and existing_rows() == args.rows:
            say("  reusing the database left by --keep-db")
            harness.migrate()
        else:
            harness.recreate_database(DATABASE)
            harness.migrate()
            t0 = time.monotonic()
            generate(args.rows, timezone.now().replace(microsecond=0))
            say(f"  generated and vacuumed in {time.monotonic() - t0:.0f} s")
        world = describe()
        execute("SET statement_timeout = '120s'", fetch=False)
        the_cases = cases(world)
        try:
            results = run_phases(args, env, var_dir, world, the_cases)
            print_table(args, the_cases, results)
            statements, heaviest = explain_phase(the_cases, results)
            if not args.no_experiments:
                experiments(args, the_cases, results, statements, heaviest)
        finally:
            signal.alarm(0)
            with contextlib.suppress(psycopg.Error), psycopg.connect(PG_BENCH, autocommit=True) as conn:
                conn.execute(f"DROP INDEX IF EXISTS {COVERING_INDEX}")
            connection.close()
            if not args.keep_db:
                harness.drop_database(DATABASE)
        say(f"\n(total {time.monotonic() - started:.0f} s)")
    return 0


def run_phases(args, env, var_dir, world, the_cases) -> dict:
    results: dict[tuple[str, str], dict] = {}
    phase_start("in-process timing")
    for label, ids, since, until, _q in the_cases:
        for group_by in GROUP_BY:
            timed, busy = measured(
                "in-process timing",
                lambda i=ids, s=since, u=until, g=group_by: time_function(i, s, u, g, args.reps),
            )
            results[(label, group_by)] = {**timed, "busy": busy}
    phase_start("HTTP timing")
    http_phase(env, var_dir, world, the_cases, results, args.reps)
    return results


def print_table(args, the_cases, results) -> None:
    say()
    say(
        f"== Report time per request, ms ({args.rows:,} incidents; function: median and min of"
        f" {args.reps} warm runs; HTTP: median / max of {args.reps} sequential GETs after a warm-up)"
    )
    say(
        f"{'case':<24} {'group_by':<9} {'groups':>6} {'fn med':>7} {'fn min':>7} {'HTTP med':>9}"
        f" {'HTTP max':>9}  target"
    )
    for label, *_ in the_cases:
        for group_by in GROUP_BY:
            r = results[(label, group_by)]
            verdict = "goal" if r["http_max"] <= GOAL_MS else "ok" if r["http_max"] <= TARGET_MS else "MISS"
            say(
                f"{label:<24} {group_by:<9} {r['groups']:>6} {r['fn']:>7.0f} {r['fn_min']:>7.0f}"
                f" {r['http']:>9.0f} {r['http_max']:>9.0f}  {verdict}{' *' if r['busy'] else ''}"
            )
    say(
        f"(target: HTTP max <= {TARGET_MS:.0f} ms 'ok', <= {GOAL_MS:.0f} ms 'goal', else 'MISS';"
        " * another benchmark was running)"
    )


def explain_phase(the_cases, results) -> tuple[list[str], str]:
    phase_start("EXPLAIN")
    heavy_label, heavy_ids, heavy_since, heavy_until, _ = the_cases[0]
    heaviest = max(GROUP_BY, key=lambda g: results[(heavy_label, g)]["fn"])
    statements = captured_queries(heavy_ids, heavy_since, heavy_until, heaviest)
    plans = [explain(s) for s in statements]
    say()
    say(f"== EXPLAIN (ANALYZE, BUFFERS), case {heavy_label}, group_by={heaviest}: {len(statements)} queries")
    for i, (statement, plan) in enumerate(zip(statements, plans, strict=True), 1):
        ms, indexes, nodes = plan_summary(plan)
        say(f"  query {i}: {ms:.0f} ms; indexes: {', '.join(indexes) or 'none'}; {'; '.join(nodes)}")
        say(f"    {statement[:240]} …")
    slowest = max(range(len(plans)), key=lambda i: plan_summary(plans[i])[0])
    say(f"-- plan of query {slowest + 1} (the slowest):")
    for line in plans[slowest]:
        say("  " + line)
    for label, ids, since, until, _ in the_cases[1:]:
        found = plans_line(captured_queries(ids, since, until, heaviest))
        say(f"  case {label}, group_by={heaviest}: {found}")
    return statements, heaviest


def experiments(args, the_cases, results, statements, heaviest) -> None:
    from django.utils import timezone

    phase_start("experiments")
    reps = max(3, args.reps - 2)
    say()
    say(
        f"== Experiments (bench database only), ms; function = response_times() median of {reps};"
        f" SQL = the statements alone, median of {reps}"
    )
    table: list[tuple[str, str, dict[str, float]]] = []

    def function_trial(case, name: str, *settings: str) -> None:
        for statement in settings:
            execute(statement, fetch=False)
        label, ids, since, until, _ = case
        timed, busy = {}, False
        for g in GROUP_BY:
            timed[g], contended = measured(
                "experiments", lambda g=g: time_function(ids, since, until, g, reps)["fn"]
            )
            busy = busy or contended
        table.append((label[:1], name + (" *" if busy else ""), timed))
        say(f"  {table[-1][0]} {table[-1][1]}: " + " ".join(f"{g}={ms:.0f}" for g, ms in timed.items()))

    def sql_trial(case, name: str, variant: str | None) -> None:
        label, ids, since, until, _ = case
        timed, busy = {}, False
        for g in GROUP_BY:
            s, u, now = period(since, until)
            if variant is None:
                todo = [(q, None) for q in captured_queries(ids, since, until, g)]
            else:
                todo = prototypes(g, ids, s, u, now)[variant]
            timed[g], contended = measured("experiments", lambda t=todo: time_statements(t, reps))
            busy = busy or contended
        table.append((label[:1], name + (" *" if busy else ""), timed))
        say(f"  {table[-1][0]} {table[-1][1]}: " + " ".join(f"{g}={ms:.0f}" for g, ms in timed.items()))

    heavy = the_cases[0]
    variants = list(prototypes("brand", [], None, None, None))
    function_trial(heavy, "function: SET jit = off", "SET jit = off")
    function_trial(
        heavy, "function: SET work_mem = '64MB' (jit default)", "RESET jit", "SET work_mem = '64MB'"
    )
    function_trial(heavy, "function: work_mem 64MB + jit off", "SET jit = off")
    execute("RESET jit", fetch=False)
    execute("RESET work_mem", fetch=False)
    sql_trial(heavy, "SQL: the report's own 3 queries", None)
    for variant in variants:
        sql_trial(heavy, f"SQL: {variant}", variant)
    execute("SET work_mem = '64MB'", fetch=False)
    execute("SET jit = off", fetch=False)
    for variant in variants[1:]:
        sql_trial(heavy, f"SQL: {variant[:2]} + work_mem 64MB + jit off", variant)
    say("  floor, " + floors(heavy, reps))
    execute("RESET jit", fetch=False)
    execute("RESET work_mem", fetch=False)
    _label, ids, since, until, _ = heavy
    now = timezone.now()
    say(
        "  prototype check, group_by="
        + heaviest
        + ": "
        + check_prototype(run_report(ids, since, until, heaviest), heaviest, ids, since, until, now)
    )

    t0 = time.monotonic()
    with psycopg.connect(PG_BENCH, autocommit=True) as conn:
        # `id` too: the report counts COUNT("id"), and without it no index-only scan is possible.
        conn.execute(
            f"CREATE INDEX {COVERING_INDEX} ON incidents_incident (brand_id, detected_at)"
            f" INCLUDE ({', '.join(COVERED)})"
        )
        conn.execute("VACUUM ANALYZE incidents_incident")
        size = conn.execute("SELECT pg_size_pretty(pg_relation_size(%s))", [COVERING_INDEX]).fetchone()[0]
    say(f"  (covering index {COVERING_INDEX}: {size}, built in {time.monotonic() - t0:.0f} s)")
    for case in the_cases:
        function_trial(case, "function: + covering index")
    say(f"  with it, a/{heaviest}: {plans_line(statements)}")
    for case in the_cases[1:]:
        say(
            f"  with it, {case[0][:1]}/{heaviest}: "
            f"{plans_line(captured_queries(case[1], case[2], case[3], heaviest))}"
        )
    execute("SET work_mem = '64MB'", fetch=False)
    execute("SET jit = off", fetch=False)
    say("  floor with the covering index, " + floors(heavy, reps))
    for case in the_cases:
        for variant in variants[1:]:
            sql_trial(case, f"SQL: {variant[:2]} + work_mem 64MB + jit off + covering index", variant)
    execute("RESET jit", fetch=False)
    execute("RESET work_mem", fetch=False)
    with psycopg.connect(PG_BENCH, autocommit=True) as conn:
        conn.execute(f"DROP INDEX {COVERING_INDEX}")

    say()
    baseline = {c[0][:1]: {g: results[(c[0], g)]["fn"] for g in GROUP_BY} for c in the_cases}
    say(f"{'case / variant':<75} " + " ".join(f"{g:>8}" for g in GROUP_BY))
    for case, values in baseline.items():
        say(
            f"{case + ' function: baseline (existing indexes), from the table':<75} "
            + " ".join(f"{values[g]:>8.0f}" for g in GROUP_BY)
        )
    for case, name, timed in table:
        say(f"{(case + ' ' + name)[:75]:<75} " + " ".join(f"{timed[g]:>8.0f}" for g in GROUP_BY))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        say(f"FAILED: {exc}")
        sys.exit(1)
