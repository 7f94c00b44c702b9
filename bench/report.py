"""
Benchmark: the response-time report over 1,000,000 incidents, 20 brands, one year.

    .venv/bin/python bench/report.py [--rows N] [--reps 5] [--keep-db] [--reuse-db] [--no-wait]

Issue 24's target: one report request <= 500 ms (goal 200 ms) for every `group_by` (and
`day` in a zone other than UTC), including all brands over the whole year, on PostgreSQL,
over HTTP. This prints figures; it is not a test.

Setup: database `crisis_bench_report` (dropped, created, migrated); 20 brands, 30
responders (assignees), one manager with role manager in all 20 brands, one superuser.
Then, with `INSERT … SELECT … FROM generate_series`, N incidents detected over the last
365 days in time order (as a live desk inserts them), brands skewed (the biggest ~3x the
smallest), severities 5/20/45/30 % critical/high/medium/low with the default ack SLA
(600/900/3600/14400 s), 8 categories, 13 channels; ~90 % acknowledged 30 s to ~1.6x the
SLA after detection (~20 % of all late), ~80 % resolved; ack escalations (level 1) for
~5 % of incidents, all among the late or unacknowledged ones; ~2.4 % of the resolved
ones merged into the incident before them (the report leaves them out); and every other
timed figure of `incidents.reports.DISTRIBUTIONS` (the first public statement, once it
exists) set for ~30 % of the acknowledged incidents, up to an hour after acknowledging.
`VACUUM ANALYZE` afterwards.

Measured, for three cases — (a) all 20 brands over the year, (b) the biggest brand over
the year, (c) all brands over the last 30 days — and every group_by plus `day` with
tz=Europe/Moscow:
- `incidents.reports.response_times(...)` in this process: one warm-up, median of --reps;
- the same through HTTP: gunicorn (gthread, 1 worker, 2 threads, unpinned), sequential
  `GET /api/v1/reports/response-times/` as the manager with a knox token, one warm-up,
  median and max of --reps; the verdict is on the HTTP median;
- `EXPLAIN (ANALYZE, BUFFERS)` of each statement of the slowest HTTP case.
Before each row it waits while another bench/*.py runs (they would share the 2 cores),
at most 20 minutes a phase; rows measured alongside one are marked *. The background CPU
load is printed; other work (test runs) is not waited for.
"""

from __future__ import annotations

import argparse
import os
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
# (label, group_by, tz): every grouping, and days in a zone other than UTC.
GROUPINGS = (
    ("brand", "brand", "UTC"),
    ("severity", "severity", "UTC"),
    ("category", "category", "UTC"),
    ("assignee", "assignee", "UTC"),
    ("channel", "channel", "UTC"),
    ("day", "day", "UTC"),
    ("day@Moscow", "day", "Europe/Moscow"),
)
BUDGET_SECONDS = 100 * 60  # includes up to 20 min of waiting in each of the 3 phases
NO_WAIT = False
PHASE = {"deadline": 0.0}  # waiting for other benchmarks stops 20 min after a phase starts


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="incidents to generate")
    parser.add_argument("--reps", type=int, default=5, help="timed runs per measurement")
    parser.add_argument("--keep-db", action="store_true", help="leave the bench database behind")
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="use the bench database left by --keep-db if it has --rows incidents",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="smoke test only: do not wait for other benchmarks (unfair figures)",
    )
    return parser.parse_args(argv)


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
    escalation_count, escalation_chain, resolution, source_state, source_details)
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
       '{}'::jsonb, CASE WHEN res_at IS NOT NULL THEN 'Handled.' ELSE '' END, '', '{}'::jsonb
FROM final
ORDER BY g
"""

ESCALATIONS = """
INSERT INTO incidents_escalation (incident_id, kind, level, due_at, fired_at, notified)
SELECT id, 'ack', 1, ack_due_at, ack_due_at + (1 + random() * 20) * interval '1 second', '[]'::jsonb
FROM incidents_incident
WHERE (acknowledged_at IS NULL OR acknowledged_at > ack_due_at) AND random() < %(fraction)s
"""

# Merged incidents are resolved (terminally) into another one; the report must skip them.
MERGED = """
UPDATE incidents_incident SET merged_into_id = id - 1, state = 'resolved', reviewed_at = NULL
WHERE id % 33 = 0 AND resolved_at IS NOT NULL
"""
# A timed figure other than acknowledging (the first public statement): its column set for
# ~30 % of the acknowledged incidents, up to an hour after acknowledging.
OTHER_FIGURE = """
UPDATE incidents_incident SET {ends_at} = acknowledged_at + random() * 3600 * interval '1 second'
WHERE acknowledged_at IS NOT NULL AND random() < 0.3
"""


def generate(rows: int, now) -> None:
    """Brands, users and memberships with the ORM; incidents, escalations, merges in SQL."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from crisis.models import Brand, Category, Membership, Role
    from incidents.models import Channel
    from incidents.reports import DISTRIBUTIONS as distributions

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
        cursor.execute(MERGED)
        for distribution in distributions[1:]:
            cursor.execute(OTHER_FIGURE.format(ends_at=distribution.ends_at))
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
            SELECT count(*), count(merged_into_id), count(acknowledged_at), count(resolved_at),
                   count(*) FILTER (WHERE acknowledged_at > ack_due_at),
                   (SELECT count(*) FROM incidents_escalation),
                   count(*) FILTER (WHERE detected_at >= %s),
                   pg_size_pretty(pg_total_relation_size('incidents_incident')),
                   pg_size_pretty(pg_relation_size('incidents_incident'))
            FROM incidents_incident""",
            [now - timedelta(days=30)],
        )
        n, merged, acked, resolved, late, escalations, recent, total_size, heap_size = cursor.fetchone()
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
        f" merged {merged:,}; last 30 days {recent:,}"
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


# --- Timing --------------------------------------------------------------------------------


def cases(world: dict) -> list[tuple[str, list[int], object, object, dict]]:
    """(label, brand_ids, since, until, HTTP query) of the three cases."""
    all_ids = [b.pk for b in world["brands"]]
    until = world["now"]
    since_year, since_month = until - timedelta(days=365), until - timedelta(days=30)
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
        (
            "c: 20 brands, 30 days",
            all_ids,
            since_month,
            until,
            {"since": since_month.isoformat(), "until": until.isoformat()},
        ),
    ]


def run_report(brand_ids, since, until, group_by, tz):
    from incidents.reports import response_times

    return response_times(brand_ids=brand_ids, since=since, until=until, group_by=group_by, now=until, tz=tz)


def time_function(brand_ids, since, until, group_by, tz, reps) -> dict:
    report = run_report(brand_ids, since, until, group_by, tz)  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run_report(brand_ids, since, until, group_by, tz)
        times.append((time.perf_counter() - t0) * 1000)
    return {"fn": statistics.median(times), "groups": len(report["groups"])}


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


def function_phase(the_cases, results, reps: int) -> None:
    phase_start("in-process timing")
    for label, ids, since, until, _q in the_cases:
        for name, group_by, tz in GROUPINGS:
            timed, busy = measured(
                "in-process timing",
                lambda i=ids, s=since, u=until, g=group_by, z=tz: time_function(i, s, u, g, z, reps),
            )
            results[(label, name)] = {**timed, "busy": busy}


def http_phase(env: dict, var_dir: Path, world: dict, the_cases, results, reps: int) -> None:
    import requests
    from knox.models import AuthToken

    phase_start("HTTP timing")
    _, token = AuthToken.objects.create(world["manager"])
    log = var_dir / "gunicorn.log"
    # One worker of two threads, unpinned: the report is one sequential client's request.
    with harness.gunicorn(env, log, workers=1, threads=2, core=None, timeout=120) as (_server, base):
        session = requests.Session()
        session.trust_env = False  # 127.0.0.1 only, never through a proxy
        session.headers["Authorization"] = f"Token {token}"
        url = f"{base}/api/v1/reports/response-times/"
        for label, _ids, _since, _until, query in the_cases:
            for name, group_by, tz in GROUPINGS:
                timed, busy = measured(
                    "HTTP timing",
                    lambda q=query, g=group_by, z=tz: time_http(
                        session, url, {**q, "group_by": g, "tz": z}, reps
                    ),
                )
                row = results[(label, name)]
                row.update(timed, busy=row["busy"] or busy)


def print_table(args, the_cases, results) -> None:
    say()
    say(
        f"== Report time per request, ms ({args.rows:,} incidents; function: median of {args.reps}"
        f" warm runs; HTTP: median / max of {args.reps} sequential GETs after a warm-up)"
    )
    say(f"{'case':<24} {'group_by':<11} {'groups':>6} {'fn med':>7} {'HTTP med':>9} {'HTTP max':>9}  target")
    for label, *_ in the_cases:
        for name, _group_by, _tz in GROUPINGS:
            r = results[(label, name)]
            verdict = "goal" if r["http"] <= GOAL_MS else "ok" if r["http"] <= TARGET_MS else "MISS"
            say(
                f"{label:<24} {name:<11} {r['groups']:>6} {r['fn']:>7.0f} {r['http']:>9.0f}"
                f" {r['http_max']:>9.0f}  {verdict}{' *' if r['busy'] else ''}"
            )
    say(
        f"(target: HTTP median <= {TARGET_MS:.0f} ms 'ok', <= {GOAL_MS:.0f} ms 'goal', else 'MISS';"
        " * another benchmark was running)"
    )


# --- Plans --------------------------------------------------------------------------------------


def explain_slowest(the_cases, results) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement of the slowest case, inside its snapshot."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    phase_start("EXPLAIN")
    label, name = max(results, key=lambda key: results[key]["http"])
    case = next(c for c in the_cases if c[0] == label)
    group_by, tz = next((g, z) for n, g, z in GROUPINGS if n == name)
    with CaptureQueriesContext(connection) as ctx:
        run_report(case[1], case[2], case[3], group_by, tz)
    statements = [q["sql"] for q in ctx.captured_queries if "GROUP BY" in q["sql"]]
    say()
    ms = results[(label, name)]["http"]
    say(f"== EXPLAIN (ANALYZE, BUFFERS) of the slowest case: {label}, {name} ({ms:.0f} ms)")
    with connection.cursor() as cursor:
        from incidents.reports import PLANNER_SETTINGS, REPORT_WORK_MEM

        cursor.execute(PLANNER_SETTINGS.replace("true)", "false)"), [REPORT_WORK_MEM])
        for number, statement in enumerate(statements, 1):
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement)
            plan = [row[0] for row in cursor.fetchall()]
            say(f"-- statement {number} of {len(statements)}: {statement[:200]} …")
            for line in plan:
                # The zone's midnights and the needed buckets are long constant lists.
                say("  " + (line if len(line) <= 400 else line[:400] + " …"))


# --- Main ---------------------------------------------------------------------------------------


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
            with psycopg.connect(PG_BENCH, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE incidents_incident")
        else:
            harness.recreate_database(DATABASE)
            harness.migrate()
            t0 = time.monotonic()
            generate(args.rows, timezone.now().replace(microsecond=0))
            say(f"  generated and vacuumed in {time.monotonic() - t0:.0f} s")
        world = describe()
        the_cases = cases(world)
        results: dict[tuple[str, str], dict] = {}
        try:
            function_phase(the_cases, results, args.reps)
            http_phase(env, var_dir, world, the_cases, results, args.reps)
            print_table(args, the_cases, results)
            explain_slowest(the_cases, results)
        finally:
            signal.alarm(0)
            connection.close()
            if not args.keep_db:
                harness.drop_database(DATABASE)
        say(f"\n(total {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        say(f"FAILED: {exc}")
        sys.exit(1)
