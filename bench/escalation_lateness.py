"""
Benchmark: how late do escalations land, and their e-mails reach a mail server, when N
incidents fall due at the same moment?

    .venv/bin/python bench/escalation_lateness.py [--quick] [--sizes 1000,10000] [--tick 5] [--phase 0.5]
        [--schedules N]

The targets: one worker as the Procfile runs it on PostgreSQL + Redis, 1,000 and
10,000 incidents whose ack deadline is the same moment -> p99 of (escalated − deadline)
<= 2 s at 1,000 and <= 5 s at 10,000, and none early (issue 2); p99 of (e-mail accepted
by the SMTP server − deadline) <= 2 s at 1,000 and <= 10 s at 10,000 (issue 19).

Per size N, from scratch: database `crisis_bench_clock` dropped, created and migrated;
Redis db 14 flushed; one brand with one manager who has an e-mail (so every level-1
escalation writes one notification); a local SMTP server (`bench/smtp_sink.py`, its
own process) that adds 50 ms to each new connection (TCP, TLS and AUTH of a real one)
and 2 ms to each message, and records when it accepted each message by the desk's
idempotency key; ONE `celery -A config worker --loglevel WARNING` (concurrency: its
setting, CELERY_WORKER_CONCURRENCY, the CPU count + 1, as the Procfile runs it) and ONE
`celery -A config beat` (default tick 5 s),
started and waited for (first sweeper heartbeat). `--embedded-beat` runs the worker
with `-B --concurrency 2` instead, `--dummy-mail` sends to Django's dummy backend (the
set-up of the figures before issue 19). Then N incidents are bulk-inserted
with the columns the filing service sets (`clock.initial_timers`, `chain.DEFAULT_CHAIN`:
level 1 at +0 s to managers, level 2 at +600 s, so only level 1 falls due here), all
with the same `ack_due_at` = `next_escalation_at` ~25 s ahead, and `sla_warning_at`
set to NULL so that only escalation is measured.

`--schedules N` (N >= 1): level 1 names N on-call schedules of the brand instead of the
managers (each a Europe/Berlin rotation of three responders with 8-hour shifts, an office-
hours layer over it and an override on the first), so every escalation asks who is on
call at the instant it fires; the run then checks that each level-1 escalation notified
exactly the people on call at its deadline.

Where the deadline falls between two sweeper ticks can matter: each tick publishes the
fast path (ETA tasks) only for deadlines before the next tick, so a deadline just after
a tick gets it published just before it is due. `--phase` places the deadline
at that fraction of a tick after a sweep (beat ticks every `tick` s from its first run;
the heartbeat row tells when a sweep ran): 0.5, the average case, by default; 0.05 is
close to the worst case for the fast path.

Two lateness figures:
- fired: `Escalation.fired_at − due_at`, the `now` the firing code took. A sweep takes
  one `now` for its whole run, so for rows it fires this understates when they landed;
- landed: when the row was committed (seen by this script polling every 100 ms) minus
  the deadline: what a manager waiting for the page would see (±0.1 s).
Also: when the last of the N landed, a timeline of the broker's queues, how long the
worker then takes to deliver the N notifications (bounded wait), and a split by path.
With the SMTP server: delivered = accepted by the server − deadline (p50, p99, max),
deliveries per second (N over first to last accepted), connections opened, and any
message accepted twice.
The split is a heuristic: a sweep (beat's tick or an early sweep) stamps all its rows
with one `fired_at`, a single-incident `fire_due_timers` task stamps one row with its
own, so rows sharing a `fired_at` are counted as fired by sweeps.
"""

from __future__ import annotations

import argparse
import collections
import math
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness

DATABASE = "crisis_bench_clock"
TARGET_P99 = {1_000: 2.0, 10_000: 5.0}
TARGET_DELIVERED_P99 = {1_000: 2.0, 10_000: 10.0}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated incident counts")
    parser.add_argument("--quick", action="store_true", help="only N = 1,000, 20 s lead")
    parser.add_argument(
        "--lead", type=float, default=25.0, help="seconds from the insert to the common deadline"
    )
    parser.add_argument("--tick", type=float, default=5.0, help="ESCALATION_TICK_SECONDS")
    parser.add_argument(
        "--phase",
        type=float,
        default=0.5,
        help="where the deadline falls between two sweeper ticks, as a fraction "
        "of the tick (0 = just after a tick, the fast path's worst case)",
    )
    parser.add_argument(
        "--max-wait", type=float, default=240.0, help="seconds past the deadline to wait for all escalations"
    )
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--schedules", type=int, default=0, help="level 1 names this many on-call schedules (0: the managers)"
    )
    parser.add_argument(
        "--embedded-beat", action="store_true", help="one worker with -B --concurrency 2 (the old set-up)"
    )
    parser.add_argument(
        "--dummy-mail", action="store_true", help="Django's dummy e-mail backend instead of the SMTP server"
    )
    parser.add_argument(
        "--smtp-connect-delay", type=float, default=0.05, help="seconds per new SMTP connection"
    )
    parser.add_argument("--smtp-message-delay", type=float, default=0.002, help="seconds per message")
    parser.add_argument(
        "--aiosmtpd",
        action="store_true",
        help="the tests' aiosmtpd server instead of the lean one (it takes more of the shared CPU)",
    )
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.quick:
        args.sizes, args.lead = [1_000], 20.0
    return args


def make_schedules(brand, count: int, now) -> dict:
    """`count` on-call schedules of the brand and the chain whose level 1 names them all."""
    from crisis import oncall
    from crisis.services import membership_set
    from incidents import chain

    if count <= 0:
        return chain.DEFAULT_CHAIN
    people = [f"bench-responder-{n}" for n in range(3)]
    for username in people:
        membership_set(brand=brand, username=username, role="responder", email=f"{username}@bench.invalid")
    ids = []
    for n in range(count):
        schedule = oncall.schedule_create(
            brand=brand,
            name=f"Bench rotation {n}",
            time_zone="Europe/Berlin",
            layers=[
                {
                    "name": "Rotation",
                    "users": people[n % 3 :] + people[: n % 3],
                    "start": now - timedelta(days=30, minutes=7 * n),
                    "shift": {"every": 8, "unit": "hours"},
                    "restrictions": [],
                },
                {
                    "name": "Office hours",
                    "users": [harness.CLOCK_MANAGER],
                    "start": now - timedelta(days=30),
                    "shift": {"every": 1, "unit": "weeks"},
                    "restrictions": [
                        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "18:00"}
                    ],
                },
            ],
        )
        if n == 0:
            schedule.overrides.create(
                user=schedule.layers.first().members.first().user,
                start=now - timedelta(hours=1),
                end=now + timedelta(hours=1),
            )
        ids.append(schedule.pk)
    return {
        "levels": [
            {"after_seconds": 0, "roles": [], "users": [], "schedules": ids},
            {"after_seconds": 600, "roles": ["executive"], "users": [], "schedules": []},
        ],
        "repeat": 0,
    }


def check_on_call(escalation_chain: dict, deadline) -> tuple[str, int]:
    """Whether each level-1 escalation told exactly who was on call at its deadline: (said, wrong rows)."""
    from crisis import oncall
    from incidents.models import Escalation

    ids = escalation_chain["levels"][0].get("schedules") or []
    if not ids:
        return "none named", 0
    expected = sorted({user for found in oncall.on_call(ids, at=deadline).values() for user in found.users})
    notified = collections.Counter(
        tuple(sorted(row)) for row in Escalation.all_brands.filter(level=1).values_list("notified", flat=True)
    )
    wrong = sum(count for who, count in notified.items() if list(who) != expected)
    return f"on call at the deadline {expected}; level-1 rows notifying anyone else: {wrong:,}", wrong


def insert_incidents(brand, n: int, deadline, escalation_chain: dict) -> None:
    from django.utils import timezone

    from incidents import clock
    from incidents.models import Incident

    now = timezone.now()
    detected_at = now
    timers = clock.initial_timers(detected_at=detected_at, ack_due_at=deadline, chain=escalation_chain)
    timers["sla_warning_at"] = None  # measure escalation only
    rows = [
        Incident(
            brand=brand,
            title=f"Same-moment crisis {i}",
            severity="high",
            detected_at=detected_at,
            created_at=now,
            ack_due_at=deadline,
            resolve_due_at=deadline + timedelta(hours=4),
            **timers,
        )
        for i in range(n)
    ]
    Incident.all_brands.bulk_create(rows, batch_size=2000)


def watch(n: int, deadline, max_wait: float) -> tuple[dict[int, float], list[tuple]]:
    """
    Poll until N level-1 escalations are committed.

    Returns {escalation id: seconds past the deadline when first seen}, and a timeline
    sampled about once a second: (seconds past deadline, rows landed, messages waiting in
    Redis on the clock / escalations / notifications queues, messages the worker holds
    unacknowledged: ETA tasks it keeps until due, and the ones it is running).
    """
    from django.utils import timezone

    from incidents.models import Escalation

    seen: dict[int, float] = {}
    timeline: list[tuple] = []
    give_up = deadline + timedelta(seconds=max_wait)
    last_sample = -1e9
    while timezone.now() < give_up:
        ids = Escalation.all_brands.filter(kind="ack", level=1).values_list("pk", flat=True)
        at = (timezone.now() - deadline).total_seconds()
        for pk in ids:
            seen.setdefault(pk, at)
        if at - last_sample >= 1.0 or len(seen) >= n:
            last_sample = at
            queues = harness.redis_summary(harness.CLOCK_REDIS_URL)
            timeline.append(
                (
                    at,
                    len(seen),
                    queues["clock"],
                    queues["escalations"],
                    queues["notifications"],
                    queues["unacked"],
                )
            )
        if len(seen) >= n:
            break
        time.sleep(0.1)
    return seen, timeline


def run_one(n: int, args, work: Path) -> dict:
    from django.utils import timezone

    from incidents.models import ClockHeartbeat, Escalation, Incident, Notification

    harness.flush_redis(harness.CLOCK_REDIS_URL)
    harness.recreate_database(DATABASE)
    harness.migrate()
    brand = harness.make_clock_brand()
    escalation_chain = make_schedules(brand, args.schedules, timezone.now())
    log = work / f"worker-{n}.log"
    env = harness.clock_env(DATABASE, work / f"var-{n}", ESCALATION_TICK_SECONDS=str(args.tick))
    sink = sink_log = beat = None
    if not args.dummy_mail:
        sink_log = work / f"smtp-{n}.log"
        sink, port = start_sink(args, sink_log, work / f"smtp-{n}.out")
        env.update(EMAIL_URL=f"smtp://{harness.HOST}:{port}", EMAIL_BACKEND=SMTP_BACKEND)
    started_at = timezone.now()
    if args.embedded_beat:
        worker = harness.start_worker(env, log)
    else:
        worker = harness.start_worker(
            env, log, concurrency=None, embedded_beat=False
        )  # as the Procfile: the setting
        beat = harness.start_beat(env, work / f"beat-{n}.log")
    try:
        ready = harness.wait_for_sweeper(worker, log, started_at)
        # Beat's interval schedule ticks every `tick` seconds: put the deadline at `phase`
        # of a tick after one. The heartbeat is written as a sweep ends; the first sweep
        # may have waited for the pool to boot, so the phase is taken from the second.
        first = ClockHeartbeat.objects.get(name="sweeper").beat_at
        harness.wait_for_sweeper(worker, log, first)
        t0 = time.monotonic()
        beat_at = ClockHeartbeat.objects.get(name="sweeper").beat_at
        ticks = math.ceil((args.lead + (timezone.now() - beat_at).total_seconds()) / args.tick)
        deadline = beat_at + timedelta(seconds=(ticks + args.phase) * args.tick)
        insert_incidents(brand, n, deadline, escalation_chain)
        inserted = time.monotonic() - t0
        margin = (deadline - timezone.now()).total_seconds()
        seen, timeline = watch(n, deadline, args.max_wait)
        all_landed = max(seen.values()) if len(seen) >= n else None
        sent_then = Notification.all_brands.filter(status="sent").count()
        redis_then = harness.redis_summary(harness.CLOCK_REDIS_URL)
        # The deliveries of the N notifications that escalation wrote, bounded.
        deliver_started = time.monotonic()
        while time.monotonic() - deliver_started < args.max_wait and (
            Notification.all_brands.filter(status="pending").exists()
            or (sink_log is not None and sink_accepted(sink_log) < n)
        ):
            time.sleep(0.2)
        delivered_after = (timezone.now() - deadline).total_seconds()
        pending_left = Notification.all_brands.filter(status="pending").count()
    finally:
        harness.stop_worker(worker)
        harness.stop_worker(beat)
        if sink is not None:
            harness.stop_gunicorn(sink)  # SIGTERM to its group, SIGKILL if it lingers
    rows = list(Escalation.all_brands.filter(kind="ack").values_list("level", "due_at", "fired_at"))
    fired = [(f - d).total_seconds() for level, d, f in rows if level == 1]
    by_stamp = collections.Counter(f for level, _d, f in rows if level == 1)
    sweeper_fired = [(f - d).total_seconds() for level, d, f in rows if level == 1 and by_stamp[f] > 1]
    eta_fired = [(f - d).total_seconds() for level, d, f in rows if level == 1 and by_stamp[f] == 1]
    return {
        "n": n,
        "phase": args.phase,
        "ready": ready,
        "inserted": inserted,
        "margin": margin,
        "fired": fired,
        "landed": list(seen.values()),
        "all_landed": all_landed,
        "sweeper": sum(c for c in by_stamp.values() if c > 1),
        "eta": sum(c for c in by_stamp.values() if c == 1),
        "sweeps": sum(1 for c in by_stamp.values() if c > 1),
        "sweeper_fired": sweeper_fired,
        "eta_fired": eta_fired,
        "timeline": timeline,
        "levels": collections.Counter(level for level, _d, _f in rows),
        "incidents_at_level1": Incident.all_brands.filter(escalation_level=1).count(),
        "notifications": Notification.all_brands.count(),
        "sent_then": sent_then,
        "redis_then": redis_then,
        "delivered_after": delivered_after,
        "pending_left": pending_left,
        "on_call": check_on_call(escalation_chain, deadline),
        "problems": harness.log_problems(log),
        "log": log,
        "smtp": smtp_figures(sink_log, deadline) if sink_log is not None else None,
    }


SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def start_sink(args, log: Path, out: Path) -> tuple[subprocess.Popen, int]:
    """The local SMTP server in a process of its own; (process, port) once it listens."""
    port = harness.free_port()
    command = [
        sys.executable,
        "-m",
        "bench.smtp_sink",
        "--port",
        str(port),
        "--connect-delay",
        str(args.smtp_connect_delay),
        "--message-delay",
        str(args.smtp_message_delay),
        "--log",
        str(log),
        *([] if args.aiosmtpd else ["--lean"]),
    ]
    with out.open("wb") as output:
        sink = subprocess.Popen(
            command, cwd=harness.ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if sink.poll() is not None:
            raise harness.BenchError(f"the SMTP server exited:\n{out.read_text()[-2000:]}")
        if "listening" in out.read_text():
            return sink, port
        time.sleep(0.1)
    raise harness.BenchError("the SMTP server did not start")


def sink_accepted(log: Path) -> int:
    with log.open() as lines:
        return sum(1 for line in lines if line.startswith("accepted "))


def smtp_figures(log: Path, deadline) -> dict:
    """What the SMTP server saw: connections, and when it first accepted each message."""
    first: dict[str, float] = {}
    copies = collections.Counter()
    connections = 0
    with log.open() as lines:
        for line in lines:
            event, at, *rest = line.split()
            if event == "connection":
                connections += 1
            elif event == "accepted":
                key = rest[0] if rest else ""
                copies[key] += 1
                first.setdefault(key, float(at))
    times = sorted(first.values())
    span = times[-1] - times[0] if times else 0.0
    return {
        "accepted": len(first),
        "copies": sum(copies.values()),
        "twice": sum(1 for c in copies.values() if c > 1),
        "connections": connections,
        "delivered": [at - deadline.timestamp() for at in times],
        "per_second": (len(times) - 1) / span if span > 0 else 0.0,
    }


def fmt(values: list[float]) -> str:
    if not values:
        return "no data"
    return (
        f"p50 {harness.percentile(values, 0.50):7.3f} s   p99 {harness.percentile(values, 0.99):7.3f} s   "
        f"max {max(values):7.3f} s   min {min(values):7.3f} s"
    )


def report(r: dict, tick: float) -> bool:
    n = r["n"]
    target = TARGET_P99.get(n)
    print(f"\n=== N = {n:,} incidents due at the same moment (tick {tick:g} s, phase {r['phase']:g}) ===")
    print(
        f"worker ready (first sweep) after {r['ready']:.1f} s; {n:,} incidents inserted in "
        f"{r['inserted']:.2f} s; deadline was {r['margin']:.1f} s after the insert ended"
    )
    print(f"fired  = Escalation.fired_at − due_at      : {fmt(r['fired'])}")
    print(f"landed = row committed (100 ms poll) − due : {fmt(r['landed'])}")
    if r["all_landed"] is None:
        print(f"!!! only {len(r['landed']):,} of {n:,} escalations landed within the wait")
    else:
        print(f"all {n:,} landed by deadline + {r['all_landed']:.2f} s")
    print(
        f"by path (heuristic, shared fired_at = one sweep): sweeps {r['sweeper']:,} rows in "
        f"{r['sweeps']} sweep(s), single-incident tasks {r['eta']:,} rows"
    )
    print(f"   fired lateness, rows of sweeps      : {fmt(r['sweeper_fired'])}")
    print(f"   fired lateness, single-incident rows: {fmt(r['eta_fired'])}")
    # The quiet samples before anything was published say nothing: keep the last of them.
    timeline = r["timeline"]
    quiet = [i for i, (t, *counts) in enumerate(timeline) if t < 0 and not any(counts)]
    timeline = timeline[quiet[-1] :] if quiet and quiet == list(range(len(quiet))) else timeline
    print(
        "timeline, s past deadline: landed / in Redis: clock, escalations, notifications queues "
        "/ unacked held by the worker:"
    )
    print("   " + "  ".join(f"{t:+.0f}:{k}/{c},{e},{n}/{u}" for t, k, c, e, n, u in timeline))
    print(
        f"escalation rows by level {dict(r['levels'])}; incidents at level 1: "
        f"{r['incidents_at_level1']:,}; notifications written {r['notifications']:,}, sent when the "
        f"last escalation landed {r['sent_then']:,}; redis then {r['redis_then']}"
    )
    print(f"notifications: pending left {r['pending_left']:,} at deadline + {r['delivered_after']:.1f} s")
    print(f"schedules: {r['on_call'][0]}")
    smtp = r["smtp"]
    if smtp is not None:
        print(f"delivered = accepted by the SMTP server − due : {fmt(smtp['delivered'])}")
        print(
            f"SMTP server: {smtp['accepted']:,} of {n:,} messages accepted ({smtp['copies']:,} copies, "
            f"{smtp['twice']} accepted twice), {smtp['per_second']:,.0f} deliveries/s first to last, "
            f"{smtp['connections']} connections opened"
        )
        target_delivered = TARGET_DELIVERED_P99.get(n)
        if target_delivered is not None and smtp["delivered"]:
            p99 = harness.percentile(smtp["delivered"], 0.99)
            complete = smtp["accepted"] >= n
            verdict = "met" if p99 <= target_delivered and complete else "MISSED"
            print(f"target delivered p99 <= {target_delivered:g} s: {p99:.3f} s -> {verdict}")
    early = sum(1 for v in r["fired"] if v < 0)
    ok = r["on_call"][1] == 0
    if early:
        print(f"!!! {early} escalation(s) fired EARLY")
        ok = False
    if target is not None and r["landed"]:
        p99_fired = harness.percentile(r["fired"], 0.99)
        p99_landed = harness.percentile(r["landed"], 0.99)
        verdict = "met" if p99_landed <= target and len(r["landed"]) >= n else "MISSED"
        print(
            f"target p99 <= {target:g} s: fired p99 {p99_fired:.3f} s, landed p99 {p99_landed:.3f} s "
            f"-> {verdict} (judged on landed)"
        )
    if r["problems"]:
        print(f"worker log ({r['log']}) has problems, first lines:")
        for line in r["problems"]:
            print("   ", line)
    return ok and len(r["landed"]) >= n


def main(argv=None) -> int:
    args = parse_args(argv)
    with harness.exclusive():
        return run(args)


def run(args) -> int:
    harness.arm_budget(int(sum(90 + args.lead + args.max_wait + 90 for _ in args.sizes)))
    work = Path(tempfile.mkdtemp(prefix="bench-lateness-"))
    env = harness.clock_env(DATABASE, work / "var", ESCALATION_TICK_SECONDS=str(args.tick))
    harness.setup_django(env)
    from django.conf import settings as django_settings

    print(
        f"escalation lateness: sizes {args.sizes}, tick {args.tick:g} s, lead ~{args.lead:g} s, "
        f"deadline at phase {args.phase:g} of a tick after a sweep, "
        f"database {DATABASE}, redis {harness.CLOCK_REDIS_URL}, work dir {work}, "
        f"level 1 names {args.schedules or 'no'} on-call schedule(s); "
        + (
            "worker -B -c 2"
            if args.embedded_beat
            else f"worker -c {django_settings.CELERY_WORKER_CONCURRENCY} + beat (Procfile)"
        )
        + (
            "; dummy e-mail backend"
            if args.dummy_mail
            else f"; SMTP server +{args.smtp_connect_delay * 1000:g} ms per connection, "
            f"+{args.smtp_message_delay * 1000:g} ms per message"
        )
    )
    harness.report_load()
    ok = True
    try:
        for n in args.sizes:
            ok &= report(run_one(n, args, work), args.tick)
    finally:
        harness.clean_up(DATABASE, harness.CLOCK_REDIS_URL, keep_db=args.keep_db)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
