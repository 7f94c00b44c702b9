"""A process that dies is started again: compose's restart policies and `make run`'s respawn loop."""

import os
import signal
import subprocess
import time
from pathlib import Path

import yaml

from tests.live import wait_until

ROOT = Path(__file__).resolve().parent.parent.parent
RESPAWN = ROOT / "config" / "respawn"


def test_compose_restarts_every_long_running_service():
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    for name in ("web", "worker", "beat", "telegram", "db", "redis"):
        assert services[name].get("restart") in ("unless-stopped", "always"), name
    assert services["migrate"]["restart"] == "no"  # a release step runs once


def test_make_run_wraps_every_process_in_the_respawn_loop():
    lines = [line for line in (ROOT / "Procfile.embedded").read_text().splitlines() if line.strip()]
    # telegram: long polling, asleep without a bot token (integrations' telegram_poll)
    assert {line.split(":", 1)[0] for line in lines} == {"web", "worker", "beat", "telegram"}
    for line in lines:
        assert line.split(": ", 1)[1].startswith("config/respawn "), line


def start(tmp_path, *command) -> subprocess.Popen:
    return subprocess.Popen(
        [str(RESPAWN), *command],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # as honcho starts it: a process group of its own
    )


def test_a_command_that_exits_is_started_again(tmp_path):
    runs = tmp_path / "runs"
    loop = start(tmp_path, "sh", "-c", f"echo run >> {runs}; exit 3")
    try:
        assert wait_until(lambda: runs.exists() and len(runs.read_text().split()) >= 2, timeout=10)
    finally:
        os.killpg(loop.pid, signal.SIGTERM)  # what honcho does on Ctrl-C
        loop.wait(timeout=10)
    count = len(runs.read_text().split())
    time.sleep(2.5)
    assert len(runs.read_text().split()) == count  # stopped means stopped: no run after it


def test_a_stop_reaches_the_command_and_ends_the_loop(tmp_path):
    pid_file = tmp_path / "pid"
    loop = start(tmp_path, "sh", "-c", f"echo $$ > {pid_file}; exec sleep 60")
    try:
        assert wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), timeout=10)
        child = int(pid_file.read_text())
        os.kill(loop.pid, signal.SIGTERM)  # the loop alone, as from a terminal: passed on to the command
        assert loop.wait(timeout=10) is not None
        assert wait_until(lambda: not Path(f"/proc/{child}").exists(), timeout=5)
    finally:
        if loop.poll() is None:
            os.killpg(loop.pid, signal.SIGKILL)
