"""
Shared plumbing of the clock benchmarks (`escalation_lateness.py`, `sweeper_cost.py`,
`worker_memory.py`): a throwaway PostgreSQL database, a Redis database of their own,
a Celery worker with embedded beat in its own session, RSS sampling and percentiles.

Not a benchmark itself. Traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from bench.cpu import background_load

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
PG_ADMIN = f"host={HOST} port=5432 user=postgres dbname=postgres connect_timeout=5"
REDIS_URL = f"redis://{HOST}:6379/14"
BRAND = "bench-clock"
MANAGER = "bench-manager"


class BenchError(RuntimeError):
    pass


# --- Environment, database, broker --------------------------------------------------


def bench_env(database: str, var_dir: Path, redis_url: str = REDIS_URL, **extra: str) -> dict[str, str]:
    """The environment of this process's Django and of the worker it starts."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.lower().endswith("_proxy")  # nothing of ours goes through a proxy
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": f"postgres://postgres@{HOST}:5432/{database}",
            "REDIS_URL": redis_url,
            "CONN_MAX_AGE": "60",
            "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdefghijkl",
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "VAR_DIR": str(var_dir),
            "LOG_LEVEL": "WARNING",
            # Notifications are written to the outbox and "delivered" to nowhere, silently.
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def setup_django(env: dict[str, str]) -> None:
    """Point this process's Django at the benchmark database (once per process)."""
    os.environ.update(env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def recreate_database(name: str) -> None:
    close_django_connections()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def clean_up(database: str, *, keep_db: bool) -> None:
    """What every clock benchmark leaves behind: its Redis database flushed, its
    PostgreSQL database dropped unless asked to keep it."""
    flush_redis()
    if not keep_db:
        drop_database(database)


def drop_database(name: str) -> None:
    close_django_connections()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def close_django_connections() -> None:
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()


def flush_redis(redis_url: str = REDIS_URL) -> None:
    import redis  # celery[redis] brings it

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    client.flushdb()
    client.close()


def redis_summary(redis_url: str = REDIS_URL) -> dict[str, int]:
    """Messages waiting per queue, and messages a worker holds unacknowledged (its ETA tasks)."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        found = {q: client.llen(q) for q in ("celery", "clock", "escalations", "notifications")}
        found["unacked"] = client.hlen("unacked")
        found["used_memory_mb"] = int(client.info("memory")["used_memory"]) // (1024 * 1024)
        return found
    finally:
        client.close()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)


def make_brand():
    """One brand with one manager who has an e-mail, so escalations write notifications."""
    from crisis.services import brand_create, membership_set

    brand = brand_create(slug=BRAND, name="Clock benchmark brand")
    membership_set(brand=brand, username=MANAGER, role="manager", email="manager@bench.invalid")
    return brand


# --- The worker ------------------------------------------------------------------------


def start_worker(
    env: dict[str, str], log: Path, *, concurrency: int = 2, embedded_beat: bool = True
) -> subprocess.Popen:
    """`celery -A config worker -B`, in its own session so that stopping it reaches its children.

    Beat keeps its schedule file under the environment's VAR_DIR (a fresh one per run).
    Without `embedded_beat`, the worker alone (as the Procfile runs it): start
    `start_beat` next to it."""
    command = [
        str(VENV_BIN / "celery"),
        "-A",
        "config",
        "worker",
        *(["-B"] if embedded_beat else []),
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "WARNING",
    ]
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def start_beat(env: dict[str, str], log: Path) -> subprocess.Popen:
    """`celery -A config beat` on its own (the Procfile's `beat`), in its own session."""
    command = [str(VENV_BIN / "celery"), "-A", "config", "beat", "--loglevel", "WARNING"]
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_worker(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    """
    SIGTERM to the worker's main process (Celery's warm shutdown: it stops its pool and
    beat itself), then SIGKILL to its whole process group if anything of it lingers.
    """
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)
    deadline = time.monotonic() + 5
    while group_pids(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)  # the pool and beat children leave a moment after the main process
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def wait_for_sweeper(proc: subprocess.Popen, log: Path, since, timeout: float = 60) -> float:
    """Wait until beat has run the sweeper once (its heartbeat row is newer than `since`)."""
    from incidents.models import ClockHeartbeat

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise BenchError(f"the worker exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        if ClockHeartbeat.objects.filter(name="sweeper", beat_at__gt=since).exists():
            return time.monotonic() - started
        time.sleep(0.2)
    raise BenchError(f"no sweeper heartbeat within {timeout} s:\n{log.read_text()[-3000:]}")


def log_problems(log: Path) -> list[str]:
    text = log.read_text(errors="replace") if log.exists() else ""
    return [
        ln
        for ln in text.splitlines()
        if "Traceback" in ln or " ERROR" in ln or "CRITICAL" in ln or "WARNING/" in ln
    ][:10]


# --- Processes and memory -----------------------------------------------------------------


def group_pids(pgid: int) -> list[int]:
    """Live processes whose process group is `pgid`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2 :].split()
        if rest[0] != "Z" and int(rest[2]) == pgid:
            pids.append(int(entry.name))
    return sorted(pids)


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; (0, 0) when it is gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    except (OSError, ValueError):
        return 0, 0
    return rss, pss


def process_title(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:80]


# --- Figures -------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of `values` (share in 0..1)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def report_load(label: str = "background load before start") -> float:
    load = background_load()
    print(f"{label}: {load:.2f} of {os.cpu_count()} cores busy")
    if load > 0.3:
        print("!!! the machine is not idle (other processes): the figures will be noisy")
    return load


LOCK_FILE = Path(tempfile.gettempdir()) / "crisis-desk-clock-bench.lock"


@contextlib.contextmanager
def exclusive(wait_seconds: float = 900):
    """
    One clock benchmark at a time on this machine: they share Redis db 14 and drop and
    create their databases, so two at once would wreck each other's runs and figures.
    Waits for a running one to finish (bounded), then holds the lock until done.
    """
    with LOCK_FILE.open("a+") as handle:
        started = time.monotonic()
        announced = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not announced:
                    handle.seek(0)
                    print(
                        f"another clock benchmark holds {LOCK_FILE} ({handle.read().strip()}); waiting…",
                        flush=True,
                    )
                    announced = True
                if time.monotonic() - started > wait_seconds:
                    raise BenchError(f"another clock benchmark still runs after {wait_seconds:g} s") from None
                time.sleep(2)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}: {' '.join(sys.argv)}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def arm_budget(seconds: int) -> None:
    """Bounded run time: SIGALRM raises, and the caller's `finally` cleans up."""

    def over(signum, frame):
        raise BenchError(f"over its time budget of {seconds} s; stopped")

    signal.signal(signal.SIGALRM, over)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.alarm(seconds)
