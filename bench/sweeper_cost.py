"""
Benchmark: what one sweeper tick costs with 100,000 open incidents among 1,000,000.

    .venv/bin/python bench/sweeper_cost.py [--quick] [--reps 20] [--keep-db]

The issue's target: one tick <= 50 ms, the due rows found by index scans.

Setup: database `crisis_bench_sweep` (dropped, created, migrated); one brand with a
manager who has an e-mail; then, with `INSERT … SELECT … FROM generate_series`:
900,000 closed incidents (resolved/reviewed, every timer column NULL) with the
lowest ids, then 100,000 open ones: 60 % detected (`next_escalation_at` = ack deadline
and `sla_warning_at` 10 min before it, 1–5 h ahead) and 40 % acknowledged/investigated
(`resolve_escalation_at` 1–5 h ahead, and a status-update beat `update_due_at` 30 min
before it), so nothing is due and nothing falls within the
next tick. 100 of the detected ones, spread over the open id range, are the probes:
parked 10 h ahead for the empty tick, made due (deadline 2 s ago, level 0) for the
busy tick. Public statements (issue 23): one per ten open incidents, three in ten of them in
approval with their hop's deadline (`hop_due_at`) 1-5 h ahead, the rest published (no timer).
`VACUUM ANALYZE` afterwards.

Measured in this process (Django pointed at that database, PostgreSQL + Redis db 14,
no worker running; what the sweeper publishes just piles up in Redis and is flushed):
- empty tick: `clock.sweep()` repeated, warm; median, min, max, and the queries of one tick;
- busy tick: the 100 probes reset to due before each repetition (outside the timing),
  then `clock.sweep()` timed, 100 escalations fired each time;
- `EXPLAIN (ANALYZE, BUFFERS)` of the statements the tick ran (captured from Django):
  the `SELECT … FOR UPDATE OF … SKIP LOCKED` claims, one per timer column
  (`clock.TIMER_COLUMNS`) and the statements' hop claim, the `_publish_upcoming` range
  queries, the
  checklist-reminder query and the outbox query;
- a backlog: `--backlog` more open rows made due at once (workers were down, or a
  burst of deadlines), the `next_escalation_at` claim's plan and time with the
  statistics ANALYZE saw before (nothing due) and after a fresh ANALYZE; and one batch
  claimed and fired set-wise, as `sweep()` does, rolled back; then `--backlog` statement
  hops due at once: the hop claim's plan, and one batch escalated, rolled back.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

DATABASE = "crisis_bench_sweep"
TARGET_MS = 50.0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--total", type=int, default=1_000_000, help="incidents in the table")
    parser.add_argument("--open", type=int, default=100_000, help="of which open")
    parser.add_argument("--due", type=int, default=100, help="probes made due for the busy tick")
    parser.add_argument("--reps", type=int, default=20, help="timed repetitions per case")
    parser.add_argument(
        "--backlog",
        type=int,
        default=10_000,
        help="open rows made due at the end, to see the claim's plan under a backlog",
    )
    parser.add_argument("--plans", action="store_true", help="print every plan in full")
    parser.add_argument("--quick", action="store_true", help="200,000 rows (20,000 open), 5 reps")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.total, args.open, args.reps, args.backlog = 200_000, 20_000, 5, 2_000
    return args


# --- Data ------------------------------------------------------------------------------

COLUMNS = """brand_id, title, description, category, severity, channel, source_url, reach, dedup_key,
    duplicate_count, state, detected_at, created_at, acknowledged_at, investigated_at, resolved_at,
    reviewed_at, ack_due_at, resolve_due_at, escalation_level, resolution, review_notes,
    escalation_chain, next_escalation_at, sla_warning_at, resolve_escalation_at, update_due_at,
    source_state, source_details"""

CLOSED = f"""
INSERT INTO incidents_incident ({COLUMNS})
SELECT %(brand)s, 'closed crisis ' || g, '', 'other', 'medium', 'vk', '', 0, '', 0,
       CASE WHEN g %% 10 = 0 THEN 'resolved' ELSE 'reviewed' END,
       t.d, t.d, t.d + interval '5 min', t.d + interval '10 min', t.d + interval '2 hours',
       CASE WHEN g %% 10 = 0 THEN NULL ELSE t.d + interval '1 day' END,
       t.d + interval '15 min', t.d + interval '4 hours', 0, 'done', NULL,
       %(chain)s::jsonb, NULL, NULL, NULL, NULL, '', '{{}}'::jsonb
FROM generate_series(1, %(n)s) AS g,
     LATERAL (SELECT now() - interval '400 days' + g * interval '30 seconds' AS d) AS t
"""

OPEN = f"""
INSERT INTO incidents_incident ({COLUMNS})
SELECT %(brand)s, 'open crisis ' || g, '', 'other', 'high', 'telegram', '', 0, '', 0,
       CASE WHEN g %% 5 < 3 THEN 'detected' WHEN g %% 5 = 3 THEN 'acknowledged'
            ELSE 'investigated' END,
       now() - interval '5 min', now() - interval '5 min',
       CASE WHEN g %% 5 < 3 THEN NULL ELSE now() END,
       CASE WHEN g %% 5 = 4 THEN now() ELSE NULL END, NULL, NULL,
       t.due, t.due + interval '4 hours', 0, '', NULL, %(chain)s::jsonb,
       CASE WHEN g %% 5 < 3 THEN t.due END,
       CASE WHEN g %% 5 < 3 THEN t.due - interval '10 min' END,
       CASE WHEN g %% 5 < 3 THEN NULL ELSE t.due END,
       CASE WHEN g %% 5 < 3 THEN NULL ELSE t.due - interval '30 min' END, '', '{{}}'::jsonb
FROM generate_series(1, %(n)s) AS g,
     LATERAL (SELECT now() + interval '1 hour'
                     + ((g * 7919) %% 14400) * interval '1 second' AS due) AS t
"""

# Public statements on every tenth open incident: 30 % in approval (a hop due 1-5 h ahead), the
# rest published (no timer).
STATEMENTS = """
INSERT INTO incidents_statement (incident_id, author_id, state, version, channels, language, body,
    route, round, hop, hop_started_at, hop_due_at, links, created_at, submitted_at, approved_at,
    published_at)
SELECT i.id, %(author)s,
       CASE WHEN i.id %% 100 < 30 THEN 'in_approval' ELSE 'published' END, 1, '["vk"]'::jsonb, 'en',
       'We are sorry.',
       '[{"name": "PR head", "roles": ["manager"], "users": [], "schedules": [],
          "within_seconds": 900}]'::jsonb,
       1, 0, now(),
       CASE WHEN i.id %% 100 < 30
            THEN now() + interval '1 hour' + ((i.id * 7919) %% 14400) * interval '1 second' END,
       '{}'::jsonb, now(), now(), NULL, NULL
FROM (SELECT id FROM incidents_incident WHERE state <> 'resolved' AND state <> 'reviewed'
      ORDER BY id) AS i
WHERE i.id %% 10 = 0
"""

# Statement hops that ran out at once (a burst, or workers down).
HOP_BACKLOG = """
UPDATE incidents_statement SET hop_due_at = now() - interval '1 minute'
WHERE id IN (SELECT id FROM incidents_statement WHERE hop_due_at IS NOT NULL ORDER BY id LIMIT %(n)s)
"""

PARK = """
UPDATE incidents_incident SET ack_due_at = now() + interval '10 hours',
       next_escalation_at = now() + interval '10 hours', sla_warning_at = NULL,
       resolve_escalation_at = NULL, escalation_level = 0, state = 'detected'
WHERE id = ANY(%(ids)s)
"""

MAKE_DUE = """
UPDATE incidents_incident SET ack_due_at = now() - interval '2 seconds',
       next_escalation_at = now() - interval '2 seconds', sla_warning_at = NULL,
       resolve_escalation_at = NULL, escalation_level = 0, state = 'detected'
WHERE id = ANY(%(ids)s)
"""

# Timeline events are append-only (a trigger refuses DELETE): the probes' pile up, 100 a tick.
FORGET = [
    "DELETE FROM incidents_notification WHERE incident_id = ANY(%(ids)s)",
    "DELETE FROM incidents_escalation WHERE incident_id = ANY(%(ids)s)",
]


def build(args) -> list[int]:
    import json

    import psycopg

    from incidents import chain

    brand = harness.make_clock_brand()
    conninfo = harness.pg_conninfo(DATABASE)
    params = {"brand": brand.pk, "chain": json.dumps(chain.DEFAULT_CHAIN)}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        t0 = time.monotonic()
        conn.execute(CLOSED, {**params, "n": args.total - args.open})
        conn.execute(OPEN, {**params, "n": args.open})
        open_ids = [
            r[0]
            for r in conn.execute("SELECT id FROM incidents_incident WHERE state = 'detected' ORDER BY id")
        ]
        step = max(1, len(open_ids) // args.due)
        probes = open_ids[step // 2 :: step][: args.due]
        conn.execute(PARK, {"ids": probes})
        author = conn.execute(
            "SELECT user_id FROM crisis_membership WHERE brand_id = %(brand)s LIMIT 1", params
        ).fetchone()[0]
        conn.execute(STATEMENTS, {"author": author})
        statements = conn.execute("SELECT count(*), count(hop_due_at) FROM incidents_statement").fetchone()
        loaded = time.monotonic() - t0
        conn.execute("VACUUM ANALYZE")
        counts = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE state IN ('detected','acknowledged','investigated')),"
            " count(next_escalation_at), count(sla_warning_at), count(resolve_escalation_at),"
            " count(update_due_at),"
            " pg_size_pretty(pg_total_relation_size('incidents_incident'))"
            " FROM incidents_incident"
        ).fetchone()
    print(
        f"loaded in {loaded:.1f} s (+ VACUUM ANALYZE): {counts[0]:,} incidents, {counts[1]:,} open; "
        f"non-null next_escalation_at {counts[2]:,}, sla_warning_at {counts[3]:,}, "
        f"resolve_escalation_at {counts[4]:,}, update_due_at {counts[5]:,}; table + indexes {counts[6]}; "
        f"{len(probes)} probes; {statements[0]:,} statements, {statements[1]:,} in approval with a hop timer"
    )
    return probes


def raw(statement: str, params: dict | None = None) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params or {})


def reset_probes(probes: list[int], *, due: bool) -> None:
    for statement in FORGET:
        raw(statement, {"ids": probes})
    raw(MAKE_DUE if due else PARK, {"ids": probes})


# --- Timing ----------------------------------------------------------------------------


def time_ticks(probes: list[int], reps: int, *, due: bool) -> tuple[list[float], list[dict]]:
    from incidents import clock

    times, results = [], []
    for _ in range(reps):
        if due:
            reset_probes(probes, due=True)
        t0 = time.perf_counter()
        result = clock.sweep()
        times.append((time.perf_counter() - t0) * 1000)
        results.append(result)
    if due:
        reset_probes(probes, due=False)
    return times, results


def captured_tick(probes: list[int], *, due: bool) -> list[dict]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from incidents import clock

    reset_probes(probes, due=due)
    with CaptureQueriesContext(connection) as captured:
        clock.sweep()
    reset_probes(probes, due=False)
    return captured.captured_queries


def explain(statement: str) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) in a transaction that is rolled back (the claim locks rows)."""
    from django.db import connection, transaction

    lines: list[str] = []
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement)  # no params: no % formatting
            lines = [row[0] for row in cursor.fetchall()]
            raise _Rollback
    except _Rollback:
        pass
    return lines


class _Rollback(Exception):
    pass


def scans(plan: list[str]) -> str:
    """The scan nodes of a plan, e.g. 'Bitmap Index Scan on incident_escalation_due'."""
    found = re.findall(
        r"(Seq Scan on \w+|Bitmap Heap Scan on \w+|"
        r"(?:Index Only Scan|Index Scan|Bitmap Index Scan)(?: Backward)?"
        r"(?: using \w+)? on \w+)",
        "\n".join(plan),
    )
    return ", ".join(dict.fromkeys(found)) or "?"


def exec_time(plan: list[str]) -> str:
    for line in plan:
        if line.startswith("Execution Time"):
            return line.split(":", 1)[1].strip()
    return "?"


def tick_queries(captured: list[dict]) -> dict[str, str]:
    """The interesting statements of one tick, by role."""
    wanted: dict[str, str] = {}
    for query in captured:
        text = query["sql"]
        # The statements' claim joins their incidents: told apart first.
        if "FOR UPDATE" in text and text.startswith('SELECT "incidents_statement"'):
            wanted.setdefault("claim of statement hops (FOR UPDATE SKIP LOCKED)", text)
        elif text.startswith('SELECT DISTINCT "incidents_statement"."hop_due_at"'):
            wanted["_publish_upcoming: hop_due_at"] = text
        elif "FOR UPDATE" in text and "incidents_incident" in text:
            wanted.setdefault("claim (sweep batch, FOR UPDATE SKIP LOCKED)", text)
        elif (
            text.startswith(('SELECT "incidents_incident"', 'SELECT DISTINCT "incidents_incident"'))
            and "FOR UPDATE" not in text
            and re.search(r'"incidents_incident"\."\w+" >', text)
        ):
            column = re.search(r'"incidents_incident"\."(\w+)" >', text)
            wanted[f"_publish_upcoming: {column.group(1) if column else '?'}"] = text
        elif "incidents_notification" in text and "next_attempt_at" in text and text.startswith("SELECT"):
            wanted["outbox.republish_due"] = text
        elif text.startswith('SELECT "playbooks_checkliststep"'):
            wanted["_remind_overdue_steps"] = text
    return wanted


# --- The claim under a backlog --------------------------------------------------------------


def claim_queryset(now, batch: int, column: str = "next_escalation_at"):
    """The sweeper's claim of one timer column, as `clock.sweep()` builds it."""
    from incidents.models import Incident

    return (
        Incident.all_brands.select_related("brand")
        .select_for_update(skip_locked=True, of=("self",))
        .filter(**{f"{column}__lte": now})
        .order_by(column)[:batch]
    )


def captured_tick_claim_only(batch: int, column: str = "next_escalation_at") -> str:
    """The SQL of the claim for now (as Django sends it)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        list(claim_queryset(timezone.now(), batch, column))
        transaction.set_rollback(True)
    return next(q["sql"] for q in captured.captured_queries if "FOR UPDATE" in q["sql"])


def time_claims(reps: int, batch: int) -> list[float]:
    """The claim alone (rows selected and locked, then rolled back)."""
    from django.db import transaction
    from django.utils import timezone

    out = []
    for _ in range(reps):
        with transaction.atomic():
            t0 = time.perf_counter()
            list(claim_queryset(timezone.now(), batch))
            out.append((time.perf_counter() - t0) * 1000)
            transaction.set_rollback(True)
    return out


def hop_claim_sql(batch: int) -> str:
    """The SQL of the statements' hop claim for now (as `clock._sweep_statement_hops` builds it)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from incidents.models import Statement

    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        list(
            Statement.all_brands.select_related("incident__brand")
            .select_for_update(skip_locked=True, of=("self",))
            .filter(hop_due_at__lte=timezone.now())
            .order_by("hop_due_at")[:batch]
        )
        transaction.set_rollback(True)
    return next(q["sql"] for q in captured.captured_queries if "FOR UPDATE" in q["sql"])


def time_fire_hops(batch: int, reps: int) -> tuple[list[float], set[int]]:
    """One batch of statement hops claimed and escalated as `sweep()` does, rolled back."""
    from django.db import transaction
    from django.utils import timezone

    from incidents import clock
    from incidents.models import Statement

    out, fired = [], set()
    for _ in range(reps):
        with transaction.atomic():
            now = timezone.now()
            t0 = time.perf_counter()
            rows = list(
                Statement.all_brands.select_related("incident__brand")
                .select_for_update(skip_locked=True, of=("self",))
                .filter(hop_due_at__lte=now)
                .order_by("hop_due_at")[:batch]
            )
            fired.add(clock.fire_statement_hops(rows, now=now))
            out.append((time.perf_counter() - t0) * 1000)
            transaction.set_rollback(True)
    return out, fired


def time_fire_batch(
    batch: int, reps: int, column: str = "next_escalation_at"
) -> tuple[list[float], set[int]]:
    """One batch claimed and fired as `sweep()` does, rolled back, so it pays no commit
    and publishes nothing (`on_commit` never runs)."""
    from django.db import transaction
    from django.utils import timezone

    from incidents import clock

    out, fired = [], set()
    for _ in range(reps):
        with transaction.atomic():
            now = timezone.now()
            t0 = time.perf_counter()
            fired.add(clock._fire_isolated(list(claim_queryset(now, batch, column)), now, set()))
            out.append((time.perf_counter() - t0) * 1000)
            transaction.set_rollback(True)
    return out, fired


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):7.2f} ms   min {min(values):7.2f} ms   "
        f"max {max(values):7.2f} ms   (n={len(values)})"
    )


BACKLOG = """
UPDATE incidents_incident SET next_escalation_at = now() - interval '1 minute'
WHERE id IN (SELECT id FROM incidents_incident WHERE state = 'detected' AND next_escalation_at IS NOT NULL
             AND NOT id = ANY(%(probes)s) ORDER BY id LIMIT %(n)s)
"""


# Status-update beats missed on claimed incidents (their assignee: the brand's manager).
UPDATE_BACKLOG = """
UPDATE incidents_incident SET update_due_at = now() - interval '1 minute',
       assignee_id = (SELECT user_id FROM crisis_membership
                      WHERE brand_id = incidents_incident.brand_id LIMIT 1)
WHERE id IN (SELECT id FROM incidents_incident WHERE update_due_at IS NOT NULL ORDER BY id LIMIT %(n)s)
"""


def show_plan(title: str, plan: list[str], *, full: bool) -> bool:
    """Print a plan (or its one-line summary); True when it scans the incidents table sequentially."""
    seq = any("Seq Scan on incidents_incident" in line for line in plan)
    print(
        f"-- {title}: {scans(plan)}; execution {exec_time(plan)}"
        + ("   !!! SEQUENTIAL SCAN of incidents" if seq else "")
    )
    if full:
        for line in plan:
            print("   " + line)
    return seq


def main(argv=None) -> int:
    args = parse_args(argv)
    with harness.exclusive():
        return run(args)


def run(args) -> int:
    harness.arm_budget(1800)
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    env = harness.clock_env(DATABASE, work / "var")
    harness.setup_django(env)
    from django.conf import settings

    from incidents.clock import TIMER_COLUMNS

    batch = settings.ESCALATION_SWEEP_BATCH
    print(
        f"sweeper cost: {args.total:,} incidents, {args.open:,} open, {args.due} due in the busy tick; "
        f"{args.reps} repetitions; tick {settings.ESCALATION_TICK_SECONDS:g} s, batch {batch}; "
        f"timer columns {', '.join(TIMER_COLUMNS)}; database {DATABASE}, redis {harness.CLOCK_REDIS_URL}"
    )
    harness.report_load()
    ok = True
    try:
        harness.flush_redis(harness.CLOCK_REDIS_URL)
        harness.recreate_database(DATABASE)
        harness.migrate()
        probes = build(args)

        time_ticks(probes, 3, due=False)  # warm: connections, caches, broker connection
        empty, results = time_ticks(probes, args.reps, due=False)
        print(f"\nempty tick (nothing due)        : {summary(empty)}   result {results[-1]}")
        busy, results = time_ticks(probes, max(3, args.reps // 2), due=True)
        fired = sorted({r["fired"] for r in results})
        print(
            f"busy tick ({args.due} due, fired {fired}): {summary(busy)}   "
            f"= {statistics.median(busy) / args.due:.2f} ms per escalation"
        )
        verdict = "met" if statistics.median(empty) <= TARGET_MS else "MISSED"
        print(f"target: empty tick <= {TARGET_MS:g} ms -> {verdict}")
        ok &= verdict == "met"

        print()
        for label, due in (("empty", False), ("busy", True)):
            captured = captured_tick(probes, due=due)
            total = sum(float(q["time"]) for q in captured) * 1000
            print(
                f"queries of one {label} tick: {len(captured)}, {total:.0f} ms in the database driver "
                "(Django's timer, 1 ms resolution)"
            )
            if label == "empty":
                for q in captured:
                    print(f"   {float(q['time']) * 1000:4.0f} ms  {q['sql'][:100]}")
        print("\nplans (EXPLAIN (ANALYZE, BUFFERS) of the statements the tick ran, captured from Django):")
        for label, due in (("empty", False), ("busy", True)):
            for role, statement in tick_queries(captured_tick(probes, due=due)).items():
                reset_probes(probes, due=due)
                plan = explain(statement)
                claim = role.startswith("claim")
                if claim or (label == "empty" and role.endswith("next_escalation_at")):
                    head = statement[: statement.find(" ")]  # SELECT or SELECT DISTINCT …
                    if statement.startswith("SELECT DISTINCT"):
                        head = statement[: statement.find(" FROM ")]
                    print(f"\n   {head} …{statement[statement.find(' FROM ') :][:420]}")
                ok &= not show_plan(f"{label} tick, {role}", plan, full=claim or args.plans)
            reset_probes(probes, due=False)

        # A backlog (workers were down, or a burst of deadlines): many rows due at once,
        # first with the statistics ANALYZE saw (nothing due), then analysed again.
        raw(BACKLOG, {"probes": probes, "n": args.backlog})
        reset_probes(probes, due=True)
        print(f"\nbacklog: {args.backlog + len(probes):,} rows due at once")
        for stats in ("stale statistics", "after ANALYZE"):
            if stats == "after ANALYZE":
                raw("ANALYZE incidents_incident")
            show_plan(
                f"backlog, {stats}, claim of next_escalation_at",
                explain(captured_tick_claim_only(batch)),
                full=True,
            )
            print(f"   claim alone: {summary(time_claims(args.reps, batch))}")
        values, fired = time_fire_batch(batch, max(3, args.reps // 4))
        print(
            f"one batch of {batch} claimed and fired set-wise, rolled back (no commit, no "
            f"publishing; fired {sorted(fired)}): {summary(values)}   = "
            f"{statistics.median(values) / batch:.2f} ms per escalation"
        )
        # The status-update reminders (issue 22): each row's next beat is its own value,
        # written by one UPDATE … SET update_due_at = CASE id WHEN … END for the batch.
        raw(UPDATE_BACKLOG, {"n": args.backlog})
        raw("ANALYZE incidents_incident")
        plan = explain(captured_tick_claim_only(batch, "update_due_at"))
        ok &= not show_plan(
            f"backlog of {args.backlog:,} update beats, claim of update_due_at", plan, full=False
        )
        values, fired = time_fire_batch(batch, max(3, args.reps // 4), column="update_due_at")
        print(
            f"one batch of {batch} status-update reminders claimed and fired set-wise, rolled back "
            f"(fired {sorted(fired)}): {summary(values)}   = "
            f"{statistics.median(values) / batch:.2f} ms per reminder"
        )
        # Statement hops that ran out at once (issue 23): claimed from their partial index.
        raw(HOP_BACKLOG, {"n": args.backlog})
        raw("ANALYZE incidents_statement")
        plan = explain(hop_claim_sql(batch))
        seq = any("Seq Scan on incidents_statement" in line for line in plan)
        show_plan(f"backlog of {args.backlog:,} statement hops, claim of hop_due_at", plan, full=True)
        ok &= not seq
        values, fired = time_fire_hops(batch, max(3, args.reps // 4))
        print(
            f"one batch of {batch} statement hops claimed and escalated, rolled back "
            f"(fired {sorted(fired)}): {summary(values)}   = "
            f"{statistics.median(values) / batch:.2f} ms per hop"
        )
    finally:
        harness.clean_up(DATABASE, harness.CLOCK_REDIS_URL, keep_db=args.keep_db)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
