"""
Where the CPU went during a benchmark run: the one place the benchmarks measure it.

On this 2-core machine a figure is only worth its run if nothing else was busy, so
every HTTP benchmark splits the cores used during a run between the server (its
process session), PostgreSQL working for the benchmark's database (and PostgreSQL's
own background processes), the client (this script and its children: wrk, a Django
process) and everything else (`other`), and flags a run where `other` was high.
"""

from __future__ import annotations

import os
import re
import resource
import threading
import time
from pathlib import Path

# "postgres: 15/main: <user> <database> <host>(<port>) <activity>": a client backend's title.
PG_BACKEND = re.compile(r"postgres: [^:]+: \S+ (\S+) (?:\S+\(\d+\)|\[local\])")


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def background_load(seconds: float = 2.0) -> float:
    """How busy the machine is while the caller waits, in cores (0 to 2 here)."""
    busy0, total0 = cpu_times()
    time.sleep(seconds)
    busy1, total1 = cpu_times()
    return (busy1 - busy0) / max(total1 - total0, 1) * (os.cpu_count() or 1)


def tick_rows(server_session: int | None, database: str):
    """(kind, pid, CPU ticks) of the server's processes and of PostgreSQL working for our database."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            rest = stat[stat.rindex(")") + 2 :].split()
            ticks = int(rest[11]) + int(rest[12])  # utime + stime
            if comm.startswith("postgres"):
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                backend = PG_BACKEND.match(title)
                if backend is None or backend.group(1) == database:  # background process or ours
                    yield "pg", int(entry.name), ticks
            elif server_session is not None and int(rest[3]) == server_session:
                yield "server", int(entry.name), ticks
        except (OSError, ValueError):
            continue  # it exited meanwhile


def own_cpu() -> tuple[float, float]:
    """Seconds of CPU of this script and of its finished children (wrk, the Django process)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, child.ru_utime + child.ru_stime


class Meter:
    """
    Cores used during a block: server, PostgreSQL (our database), client (children), others.

    Processes are sampled every second, per pid, so that a PostgreSQL backend that exits
    during the run (CONN_MAX_AGE recycles connections) still counts as ours, up to its
    last second. Comparing only two totals, a backend exiting mid-run took its whole
    lifetime's CPU out of "ours", and a run looked as if another process had used a
    core (bench/filing.py flagged every 8-client "new" run that way).
    """

    def __init__(self, server_session: int | None, database: str):
        self.session, self.database = server_session, database
        self.first: dict[tuple[str, int], int] = {}
        self.last: dict[tuple[str, int], int] = {}

    def _sample(self, initial: bool = False) -> None:
        for kind, pid, ticks in tick_rows(self.session, self.database):
            self.first.setdefault((kind, pid), ticks if initial else 0)  # new processes: all of it
            self.last[(kind, pid)] = ticks

    def _loop(self) -> None:
        while not self.stop.wait(1.0):
            self._sample()

    def __enter__(self):
        self.busy, self.total = cpu_times()
        self._sample(initial=True)
        self.me, self.children = own_cpu()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        hz = os.sysconf("SC_CLK_TCK")
        busy, total = cpu_times()
        self._sample()
        me, children = own_cpu()
        used = {"server": 0, "pg": 0}
        for (kind, pid), ticks in self.last.items():
            used[kind] += ticks - self.first[(kind, pid)]
        elapsed = max((total - self.total) / (os.cpu_count() or 1), 1) / hz  # seconds
        self.server_cores = used["server"] / hz / elapsed
        self.pg_cores = used["pg"] / hz / elapsed
        self.client_cores = (children - self.children) / elapsed
        ours = used["server"] + used["pg"] + (me - self.me + children - self.children) * hz
        self.other_cores = max(0.0, (busy - self.busy - ours) / hz / elapsed)

    def fill(self, run):
        """Copy the four figures onto a run's result (attributes of the same names)."""
        run.server_cores, run.pg_cores = self.server_cores, self.pg_cores
        run.client_cores, run.other_cores = self.client_cores, self.other_cores
        return run
