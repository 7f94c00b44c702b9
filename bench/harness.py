"""
What every benchmark needs and none of them measures: throwaway PostgreSQL databases, a
Redis database of their own, the Django environment, a gunicorn server, `wrk`, a Celery
worker, where the CPU went and how much memory a process group holds.

Not a benchmark itself. Traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
PG_ADMIN = f"host={HOST} port=5432 user=postgres dbname=postgres connect_timeout=5"
SERVER_CORE, CLIENT_CORE = "0", "1"
# More CPU than this used by other processes during a run makes its figures suspect.
BUSY_CORES = 0.15
PRODUCTION_SETTINGS = "config.settings"
# With the bare comparison endpoint (bench/filing.py).
BENCH_SETTINGS = "bench.settings"


class BenchError(RuntimeError):
    pass


def pg_conninfo(database: str) -> str:
    return f"host={HOST} port=5432 user=postgres dbname={database} connect_timeout=5"


# --- Environment and Django -------------------------------------------------------------


def django_env(
    database: str,
    var_dir: Path,
    *,
    redis_url: str = "",
    settings: str = PRODUCTION_SETTINGS,
    **extra: str,
) -> dict[str, str]:
    """The environment of a benchmark's Django: this process's, and the servers it starts."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.lower().endswith("_proxy")  # nothing of ours goes through a proxy
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": settings,
            "DATABASE_URL": f"postgres://postgres@{HOST}:5432/{database}",
            "REDIS_URL": redis_url,
            "CONN_MAX_AGE": "60",
            "SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdefghijkl",
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": f"{HOST},localhost",
            "VAR_DIR": str(var_dir),
            "LOG_LEVEL": "WARNING",
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


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", "--no-input", verbosity=0)


def manage(env: dict[str, str], *args: str, timeout: int = 300) -> str:
    """`manage.py …` in a process of its own; its output."""
    done = subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


# --- Databases -----------------------------------------------------------------------------


def close_django_connections() -> None:
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()


def recreate_database(name: str) -> None:
    close_django_connections()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def settle_database(name: str) -> None:
    """
    Vacuum (and analyze) the database and write a checkpoint, so that the next measured row
    does not pay for the autovacuum or the checkpoint that the rows before it set off.
    """
    with psycopg.connect(pg_conninfo(name), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")


def drop_database(name: str) -> None:
    close_django_connections()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def flush_redis(redis_url: str) -> None:
    """Empty the benchmark's own Redis database (whatever the product published lands there)."""
    import redis  # celery[redis] brings it

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    client.flushdb()
    client.close()


def redis_summary(redis_url: str) -> dict[str, int]:
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


def clean_up(database: str, redis_url: str, *, keep_db: bool) -> None:
    """What a benchmark leaves behind: its Redis database flushed, its PostgreSQL database
    dropped unless asked to keep it."""
    if redis_url:
        flush_redis(redis_url)
    if not keep_db:
        drop_database(database)


# --- Processes: gunicorn, Celery -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    # Its own session, so that stopping it reaches the main process and its children by group id.
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def start_gunicorn(
    env: dict[str, str],
    port: int,
    log: Path,
    *,
    workers: int,
    threads: int,
    core: str | None = SERVER_CORE,
    timeout: int = 30,
) -> subprocess.Popen:
    """gunicorn `gthread` with keep-alive and `--reuse-port`, pinned to `core` (None: unpinned)."""
    command = [
        *(["taskset", "-c", core] if core is not None else []),
        str(VENV_BIN / "gunicorn"),
        "config.wsgi:application",
        "--bind",
        f"{HOST}:{port}",
        "--worker-class",
        "gthread",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--keep-alive",
        "30",
        "--reuse-port",
        "--timeout",
        str(timeout),
        "--graceful-timeout",
        "5",
        "--log-level",
        "warning",
        "--worker-tmp-dir",
        "/dev/shm",
        "--no-control-socket",
    ]
    return _spawn(command, env, log)


def stop_gunicorn(proc: subprocess.Popen | None) -> None:
    """SIGTERM to the server's process group, SIGKILL if it lingers; stopping twice is harmless."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


@contextlib.contextmanager
def gunicorn(env: dict[str, str], log: Path, **options):
    """A started and healthy gunicorn for the block: yields (process, base URL); stopped after."""
    port = free_port()
    base = f"http://{HOST}:{port}"
    server = start_gunicorn(env, port, log, **options)
    try:
        wait_healthy(base, server, log)
        yield server, base
    finally:
        stop_gunicorn(server)


HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def http(method: str, url: str, body=None, *, authorization: str | None = None, timeout: float = 10):
    """(status, body bytes) of one JSON request; `authorization` is the header's value."""
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with HTTP.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_healthy(base: str, proc: subprocess.Popen, log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"gunicorn exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            if http("GET", f"{base}/healthz", timeout=2)[0] == 200:
                return
        time.sleep(0.2)
    raise BenchError(f"gunicorn did not answer /healthz within {seconds:.0f} s:\n{log.read_text()[-3000:]}")


def start_worker(
    env: dict[str, str], log: Path, *, concurrency: int | None = 2, embedded_beat: bool = True
) -> subprocess.Popen:
    """`celery -A config worker -B`, in its own session so that stopping it reaches its children.

    Beat keeps its schedule file under the environment's VAR_DIR (a fresh one per run).
    `concurrency=None` leaves the process count to the settings, as the Procfile does.
    Without `embedded_beat`, the worker alone (as the Procfile runs it): start
    `start_beat` next to it."""
    command = [
        str(VENV_BIN / "celery"),
        "-A",
        "config",
        "worker",
        *(["-B"] if embedded_beat else []),
        # None: no flag, the worker's own setting (CELERY_WORKER_CONCURRENCY) as the Procfile runs it
        *(["--concurrency", str(concurrency)] if concurrency else []),
        "--loglevel",
        "WARNING",
    ]
    return _spawn(command, env, log)


def start_beat(env: dict[str, str], log: Path) -> subprocess.Popen:
    """`celery -A config beat` on its own (the Procfile's `beat`), in its own session."""
    return _spawn([str(VENV_BIN / "celery"), "-A", "config", "beat", "--loglevel", "WARNING"], env, log)


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


def log_problems(log: Path) -> list[str]:
    text = log.read_text(errors="replace") if log.exists() else ""
    return [
        ln
        for ln in text.splitlines()
        if "Traceback" in ln or " ERROR" in ln or "CRITICAL" in ln or "WARNING/" in ln
    ][:10]


# --- The clock benchmarks (escalation_lateness, sweeper_cost, worker_memory) --------------

CLOCK_REDIS_URL = f"redis://{HOST}:6379/14"
CLOCK_BRAND, CLOCK_MANAGER = "bench-clock", "bench-manager"


def clock_env(database: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """A clock benchmark's environment: notifications are written to the outbox and
    "delivered" to nowhere, silently."""
    return django_env(
        database,
        var_dir,
        redis_url=CLOCK_REDIS_URL,
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        **extra,
    )


def make_clock_brand():
    """One brand with one manager who has an e-mail, so escalations write notifications."""
    from crisis.services import brand_create, membership_set

    brand = brand_create(slug=CLOCK_BRAND, name="Clock benchmark brand")
    membership_set(brand=brand, username=CLOCK_MANAGER, role="manager", email="manager@bench.invalid")
    return brand


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


# --- wrk -----------------------------------------------------------------------------------


def require_tools(*tools: str) -> None:
    """Exit with how to install what is missing: the HTTP benchmarks need wrk and taskset."""
    for tool in tools:
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not on PATH (Debian: apt-get install -y wrk util-linux procps)")
    if not (VENV_BIN / "gunicorn").exists():
        sys.exit(f"{VENV_BIN / 'gunicorn'} is missing; run `make setup` first.")
    if (os.cpu_count() or 1) < 2:
        sys.exit("This benchmark pins the server and wrk to cores 0 and 1; it needs 2 cores.")


def lua_safe(value: str, pattern: str = r"[-\w/.:]+") -> str:
    """A value put into a generated Lua script, refused unless it is plainly safe there."""
    if not re.fullmatch(pattern, value):
        raise BenchError(f"refusing to put {value!r} into Lua")
    return value


def run_wrk(url: str, script: Path, clients: int, seconds: int, *, timeout: str = "5s") -> str:
    """One keep-alive wrk thread pinned to the client core, `clients` connections; its output."""
    command = [
        "taskset",
        "-c",
        CLIENT_CORE,
        "wrk",
        "--threads",
        "1",
        "--connections",
        str(clients),
        "--duration",
        f"{seconds}s",
        "--timeout",
        timeout,
        "--latency",
        "--script",
        str(script),
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def wrk_values(output: str) -> dict[str, str]:
    """The `BENCH key=value …` line a generated script's `done()` prints."""
    line = next((ln for ln in output.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise BenchError(f"wrk printed no BENCH line:\n{output}")
    return dict(part.split("=", 1) for part in line.split()[1:])


def wrk_socket_errors(values: dict[str, str]) -> dict[str, int]:
    return {kind: int(values[kind]) for kind in ("connect", "read", "write", "timeout") if int(values[kind])}


def wrk_pairs(text: str) -> dict[int, int]:
    """`201:90,409:3` -> {201: 90, 409: 3}."""
    return {int(k): int(n) for k, n in (p.split(":") for p in text.split(",") if p)}


# --- Sharing the machine -------------------------------------------------------------------


def arm_budget(seconds: int) -> None:
    """Bounded run time: SIGALRM raises, and the caller's `finally` cleans up."""

    def over(signum, frame):
        raise BenchError(f"over its time budget of {seconds} s; stopped")

    signal.signal(signal.SIGALRM, over)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.alarm(seconds)


def running(pattern: str) -> list[str]:
    """Command lines of other processes matching `pattern` (a regex), or named `wrk`."""
    me = os.getpid()
    found = []
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        if proc.info["pid"] == me:
            continue
        line = " ".join(proc.info["cmdline"] or [])
        if proc.info["name"] == "wrk" or (line and re.search(pattern, line)):
            found.append(f"{proc.info['pid']} {line}")
    return found


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


# --- CPU -----------------------------------------------------------------------------------


def _busy_and_steal(times) -> tuple[float, float, float]:
    """(busy, steal, total) seconds of all cores from psutil's system-wide cpu_times."""
    idle = times.idle + getattr(times, "iowait", 0.0)
    steal = getattr(times, "steal", 0.0)  # only where the kernel reports it (Linux)
    # guest time is already counted in user time
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    return total - idle - steal, steal, total


def cpu_load(seconds: float = 2.0) -> tuple[float, float]:
    """(busy, stolen) cores while the caller waits: busy by any process here, stolen by the
    hypervisor from this virtual machine."""
    busy0, steal0, total0 = _busy_and_steal(psutil.cpu_times())
    time.sleep(seconds)
    busy1, steal1, total1 = _busy_and_steal(psutil.cpu_times())
    cores = psutil.cpu_count() or 1
    span = max(total1 - total0, 1e-9)
    return (busy1 - busy0) / span * cores, (steal1 - steal0) / span * cores


def background_load(seconds: float = 2.0) -> float:
    """How busy the machine is while the caller waits, in cores."""
    return cpu_load(seconds)[0]


def report_load(label: str = "background load before start") -> float:
    busy, steal = cpu_load()
    print(
        f"{label}: {busy:.2f} of {os.cpu_count()} cores busy"
        + (f", {steal:.2f} stolen by the hypervisor" if steal >= 0.01 else "")
    )
    if busy > 0.3:
        print("!!! the machine is not idle (other processes): the figures will be noisy")
    return busy


# "postgres: 15/main: <user> <database> <host>(<port>) <activity>": a client backend's title.
PG_BACKEND = re.compile(r"postgres: [^:]+: \S+ (\S+) (?:\S+\(\d+\)|\[local\])")


def _process_seconds(server_pid: int | None, database: str):
    """(kind, pid, CPU seconds) of the server's processes and of PostgreSQL working for `database`."""
    server: set[int] = set()
    if server_pid is not None:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(server_pid)
            server = {root.pid, *(child.pid for child in root.children(recursive=True))}
    for proc in psutil.process_iter(["pid", "name"]):
        try:
            pid = proc.info["pid"]
            if pid in server:
                kind = "server"
            elif (proc.info["name"] or "").startswith("postgres"):
                backend = PG_BACKEND.match(" ".join(proc.cmdline()))
                if backend is not None and backend.group(1) != database:
                    continue  # another database's backend
                kind = "pg"  # ours, or one of PostgreSQL's background processes
            else:
                continue
            times = proc.cpu_times()
            yield kind, pid, times.user + times.system
        except psutil.Error:
            continue  # it exited meanwhile


class Meter:
    """
    Cores used during a block: server, PostgreSQL (our database), client (this process's
    children), others, and the share the hypervisor stole.

    Processes are sampled every second, per pid, so that a PostgreSQL backend that exits
    during the run (CONN_MAX_AGE recycles connections) still counts as ours, up to its
    last second: comparing two totals only would take its whole lifetime's CPU out of
    "ours" and blame another process for it.
    """

    def __init__(self, server_pid: int | None, database: str):
        self.server_pid, self.database = server_pid, database
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}

    def _sample(self, initial: bool = False) -> None:
        for kind, pid, seconds in _process_seconds(self.server_pid, self.database):
            self.first.setdefault((kind, pid), seconds if initial else 0.0)  # new processes: all of it
            self.last[(kind, pid)] = seconds

    def _loop(self) -> None:
        while not self.stop.wait(1.0):
            self._sample()

    @staticmethod
    def _own() -> tuple[float, float]:
        times = psutil.Process().cpu_times()
        return times.user + times.system, times.children_user + times.children_system

    def __enter__(self):
        self.busy, self.steal, self.total = _busy_and_steal(psutil.cpu_times())
        self._sample(initial=True)
        self.me, self.children = self._own()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        busy, steal, total = _busy_and_steal(psutil.cpu_times())
        self._sample()
        me, children = self._own()
        used = {"server": 0.0, "pg": 0.0}
        for key, seconds in self.last.items():
            used[key[0]] += seconds - self.first[key]
        elapsed = max((total - self.total) / (psutil.cpu_count() or 1), 1e-3)  # wall seconds
        self.server_cores = used["server"] / elapsed
        self.pg_cores = used["pg"] / elapsed
        self.client_cores = (children - self.children) / elapsed
        ours = used["server"] + used["pg"] + (me - self.me) + (children - self.children)
        self.other_cores = max(0.0, (busy - self.busy - ours) / elapsed)
        self.steal_cores = (steal - self.steal) / elapsed

    def fill(self, run):
        """Copy the figures onto a run's result (attributes of the same names)."""
        run.server_cores, run.pg_cores = self.server_cores, self.pg_cores
        run.client_cores, run.other_cores = self.client_cores, self.other_cores
        run.steal_cores = self.steal_cores
        return run


# --- Memory --------------------------------------------------------------------------------


def group_pids(pgid: int) -> list[int]:
    """Live processes whose process group is `pgid`."""
    pids = []
    for proc in psutil.process_iter(["pid", "status"]):
        with contextlib.suppress(psutil.Error, OSError):
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.info["pid"]) == pgid:
                pids.append(proc.info["pid"])
    return sorted(pids)


def memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; (0, 0) when it is gone."""
    try:
        info = psutil.Process(pid).memory_full_info()
    except psutil.Error:
        return 0, 0
    return info.rss // 1024, getattr(info, "pss", 0) // 1024


# --- Figures -------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of `values` (share in 0..1)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]
