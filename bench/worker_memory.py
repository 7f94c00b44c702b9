"""
Benchmark: a worker's memory with 100,000 pending deadlines.

    .venv/bin/python bench/worker_memory.py [--quick] [--count 100000] [--duration 60]

The issue's target: bounded, RSS < 300 MB, with 100,000 pending deadlines.

Per case, from scratch: database `crisis_bench_memory` dropped, created and migrated;
Redis db 14 flushed; one brand with a manager who has an e-mail; ONE
`celery -A config worker -B --concurrency 2 --loglevel WARNING` (tick 5 s; with
`--separate-beat` the worker without -B and `celery -A config beat` beside it, as the
Procfile runs them, and only the worker's processes summed), waited for
(first sweeper heartbeat); then the open incidents are inserted with one SQL
`INSERT … SELECT … FROM generate_series`, and the worker's memory is sampled every
0.5 s for `--duration` seconds: VmRSS and PSS (from smaps_rollup) of every process in
its process group (main process, the 2 pool processes, embedded beat). The sum of
RSS counts pages shared after fork once per process, so it overstates; the sum of
PSS does not. Cases:

- spread  (the issue's case): `--count` detected incidents, ack deadlines
          (= `next_escalation_at`) spread evenly over the next 1–4 h, `sla_warning_at`
          10 min before each; nothing falls due during the run, so the ETA window
          only ever covers a handful;
- burst   (extra, on by default, `--no-burst` skips it): `--count` detected incidents
          all due within ~30 s (deadlines spread evenly over 15–45 s after the insert),
          `sla_warning_at` NULL: every tick plans the fast path for the next tick's
          deadlines and the worker fires as many escalations as it can. It does not
          finish them within the run; how many it fired is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

DATABASE = "crisis_bench_memory"
TARGET_MB = 300.0

INSERT = """
INSERT INTO incidents_incident (brand_id, title, description, category, severity, channel, source_url,
    reach, dedup_key, duplicate_count, state, detected_at, created_at, ack_due_at, resolve_due_at,
    escalation_level, resolution, escalation_chain, next_escalation_at, sla_warning_at)
SELECT %(brand)s, 'pending crisis ' || g, '', 'other', 'high', 'vk', '', 0, '', 0, 'detected',
       now(), now(), t.due, t.due + interval '4 hours', 0, '', %(chain)s::jsonb, t.due,
       CASE WHEN %(warn)s THEN t.due - interval '10 minutes' END
FROM generate_series(0, %(n)s - 1) AS g,
     LATERAL (SELECT now() + make_interval(secs => %(start)s + g * %(span)s / %(n)s)) AS t(due)
"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="pending deadlines")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds sampled per case")
    parser.add_argument(
        "--no-burst", dest="burst", action="store_false", help="skip the all-due-within-30-s case"
    )
    parser.add_argument("--quick", action="store_true", help="20 s per case")
    parser.add_argument(
        "--separate-beat",
        action="store_true",
        help="the worker without -B and beat as a process of its own (the "
        "Procfile's layout); only the worker's processes are summed",
    )
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 20.0
    return args


def insert(brand_id: int, n: int, *, start: float, span: float, warn: bool) -> float:
    import psycopg

    from incidents import chain

    conninfo = harness.pg_conninfo(DATABASE)
    t0 = time.monotonic()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            INSERT,
            {
                "brand": brand_id,
                "n": n,
                "start": start,
                "span": span,
                "warn": warn,
                "chain": json.dumps(chain.DEFAULT_CHAIN),
            },
        )
        conn.execute("ANALYZE incidents_incident")
    return time.monotonic() - t0


def role_of(pid: int, main: int) -> str:
    if pid == main:
        return "main (consumer)"
    with contextlib.suppress(psutil.Error):
        if any("celerybeat-schedule" in f.path for f in psutil.Process(pid).open_files()):
            return "beat"
    return "child (pool/beat)"


def sample(worker, duration: float) -> dict:
    """Memory of the worker's process group every 0.5 s for `duration` seconds."""
    peak_rss = peak_pss = 0
    per_pid: dict[int, int] = {}
    roles: dict[int, str] = {}
    series = []
    started = time.monotonic()
    while time.monotonic() - started < duration:
        if worker.poll() is not None:
            raise harness.BenchError(f"the worker exited ({worker.returncode}) during sampling")
        total_rss = total_pss = 0
        for pid in harness.group_pids(worker.pid):
            rss, pss = harness.memory_kb(pid)
            total_rss += rss
            total_pss += pss
            per_pid[pid] = max(per_pid.get(pid, 0), rss)
            if pid not in roles:
                roles[pid] = role_of(pid, worker.pid)
        peak_rss, peak_pss = max(peak_rss, total_rss), max(peak_pss, total_pss)
        series.append((time.monotonic() - started, total_rss))
        time.sleep(0.5)
    return {"peak_rss": peak_rss, "peak_pss": peak_pss, "per_pid": per_pid, "roles": roles, "series": series}


def run_case(name: str, slug: str, args, work: Path, *, start: float, span: float, warn: bool) -> dict:
    from django.utils import timezone

    from incidents.models import Escalation

    harness.flush_redis(harness.CLOCK_REDIS_URL)
    harness.recreate_database(DATABASE)
    harness.migrate()
    brand = harness.make_clock_brand()
    log = work / f"worker-{slug}.log"
    env = harness.clock_env(DATABASE, work / f"var-{slug}")
    since = timezone.now()
    worker = harness.start_worker(env, log, embedded_beat=not args.separate_beat)
    beat = harness.start_beat(env, work / f"beat-{slug}.log") if args.separate_beat else None
    try:
        harness.wait_for_sweeper(worker, log, since)
        idle = sum(harness.memory_kb(pid)[0] for pid in harness.group_pids(worker.pid))
        inserted = insert(brand.pk, args.count, start=start, span=span, warn=warn)
        result = sample(worker, args.duration)
        result["redis"] = harness.redis_summary(harness.CLOCK_REDIS_URL)
    finally:
        harness.stop_worker(worker)
        harness.stop_worker(beat)
    result.update(
        name=name,
        idle=idle,
        inserted=inserted,
        fired=Escalation.all_brands.count(),
        problems=harness.log_problems(log),
        log=log,
    )
    return result


def report(r: dict, args) -> bool:
    mb = 1024
    print(f"\n=== {r['name']} ===")
    print(
        f"{args.count:,} incidents inserted in {r['inserted']:.1f} s; worker RSS before the insert "
        f"{r['idle'] / mb:.0f} MB (sum over its processes)"
    )
    print(
        f"max total RSS {r['peak_rss'] / mb:.0f} MB   max total PSS {r['peak_pss'] / mb:.0f} MB   "
        f"over {args.duration:g} s"
    )
    for pid, rss in sorted(r["per_pid"].items()):
        print(f"   pid {pid:>7} {r['roles'][pid]:<17} max RSS {rss / mb:6.0f} MB")
    step = max(1, len(r["series"]) // 12)
    print(
        "   total RSS over time: " + "  ".join(f"{t:.0f}s:{rss / mb:.0f}" for t, rss in r["series"][::step])
    )
    print(f"escalations fired during the run {r['fired']:,}; redis at the end {r['redis']}")
    verdict = "met" if r["peak_rss"] / mb < TARGET_MB else "MISSED"
    print(f"target RSS < {TARGET_MB:g} MB (sum of RSS): {verdict}")
    if r["problems"]:
        print(f"worker log ({r['log']}) has problems, first lines:")
        for line in r["problems"]:
            print("   ", line)
    return verdict == "met"


def main(argv=None) -> int:
    args = parse_args(argv)
    with harness.exclusive():
        return run(args)


def run(args) -> int:
    harness.arm_budget(int(2 * (args.duration + 180)))
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    harness.setup_django(harness.clock_env(DATABASE, work / "var"))
    print(
        f"worker memory: {args.count:,} pending deadlines, {args.duration:g} s sampled per case, "
        f"one worker {'and a separate beat' if args.separate_beat else '-B'} --concurrency 2, "
        f"database {DATABASE}, redis {harness.CLOCK_REDIS_URL}, work dir {work}"
    )
    harness.report_load()
    ok = True
    try:
        ok &= report(
            run_case(
                "spread: deadlines over the next 1-4 h",
                "spread",
                args,
                work,
                start=3600.0,
                span=3 * 3600.0,
                warn=True,
            ),
            args,
        )
        if args.burst:
            report(
                run_case(
                    "burst: all deadlines within 15-45 s of the insert",
                    "burst",
                    args,
                    work,
                    start=15.0,
                    span=30.0,
                    warn=False,
                ),
                args,
            )
    finally:
        harness.clean_up(DATABASE, harness.CLOCK_REDIS_URL, keep_db=args.keep_db)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
