"""
Real processes for the live tests: a Celery worker (with beat), a gunicorn web
server and a private redis-server, all pointed at the test database.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TICK = 1.0  # seconds: the live tests run the sweeper every second


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    return f"postgres://{user}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def broker_env(redis_url: str | None = None) -> dict:
    if redis_url is not None:  # a private redis-server: nobody else's keys to keep apart from
        return {"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": ""}
    redis_url = os.environ.get("REDIS_URL", "")
    return {"REDIS_URL": redis_url} if redis_url else {}


def base_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(
        {
            "DATABASE_URL": test_database_url(),
            "VAR_DIR": os.path.relpath(settings.VAR_DIR, ROOT),
            "ESCALATION_TICK_SECONDS": str(TICK),
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "CONN_MAX_AGE": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Process:
    """A child process in its own process group, so that kill -9 takes its children too."""

    def __init__(self, name: str, args: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}-{int(time.time() * 1000)}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def kill9(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.log.close()

    def tail(self, lines: int = 40) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def start_worker(log_dir: Path, *, redis_url: str | None = None, beat: bool = True, **env) -> Process:
    args = [
        str(BIN / "celery"),
        "-A",
        "config",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        "2",
        "-Q",
        "celery,clock,escalations,notifications,sources",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if beat:
        args += ["--beat", "--schedule", str(log_dir / f"beat-{time.time_ns()}")]
    return Process("worker", args, base_env(**broker_env(redis_url), **env), log_dir)


def start_web(log_dir: Path, port: int, *, redis_url: str | None = None) -> Process:
    args = [
        str(BIN / "gunicorn"),
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        "gthread",
        "--workers",
        "1",
        "--threads",
        "4",
        "--timeout",
        "30",
    ]
    process = Process("web", args, base_env(**broker_env(redis_url)), log_dir)
    wait_for_port(port, process)
    return process


def wait_for_port(port: int, process: Process | None = None, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process is not None and process.proc.poll() is not None:
            raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


class RedisServer:
    """A private redis-server on a free port that a test may stop and start again."""

    def __init__(self, log_dir: Path):
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        self.binary, self.log_dir = binary, log_dir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: Process | None = None

    def start(self):
        self.process = Process(
            "redis",
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            dict(os.environ),
            self.log_dir,
        )
        wait_for_port(self.port, self.process)

    def stop(self):
        if self.process is not None:
            self.process.kill9()
            self.process.stop()
            self.process = None


def wait_until(predicate, *, timeout: float, interval: float = 0.05):
    """Poll until `predicate()` is truthy; returns its value, or fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def purge_broker() -> None:
    """Drop tasks left in the broker by earlier tests, so a new worker starts on this test's."""
    from config.celery import app

    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in app.conf.task_queues:
            with contextlib.suppress(Exception):  # a queue not declared yet holds nothing
                channel.queue_purge(queue.name)
