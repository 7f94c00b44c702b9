"""
gunicorn settings for the web process: `gunicorn -c config/gunicorn.py config.wsgi`.

Threads, not processes, carry the concurrency: requests mostly wait on
PostgreSQL, and each process keeps its persistent database connections.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
worker_class = "gthread"


def _usable_cores() -> int:
    # The cores this process may run on (taskset, cpusets); not a container's CPU quota,
    # so the default is capped below and WEB_CONCURRENCY should be set in containers.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# One process per usable core, at most 4: a Python process runs on one core at a time
# (the GIL), so a second process per core only competes with the first. On one pinned
# core, 1 x 8 threads served 234 bare creates/s with p99 72 ms; 2 x 8, 157/s with p99
# 163 ms (bench/filing.py, --workers).
# Four threads: a request here is mostly Python (a filing waits ~3 ms of its ~13 ms on
# PostgreSQL), so more threads only take the GIL from each other. In one run of
# bench/filing.py (1 worker, 8 clients), 4 threads against 8: bare creates 182 vs 164
# req/s, p99 59 vs 79 ms; new incidents 115 vs 101 req/s, p99 90 vs 114 ms. Requests
# beyond the threads wait in the listen queue, in arrival order. Each thread may hold a
# database connection (CONN_MAX_AGE): workers x threads per host must fit PostgreSQL's
# max_connections.
workers = int(os.environ.get("WEB_CONCURRENCY") or min(_usable_cores(), 4))
threads = int(os.environ.get("WEB_THREADS", "4"))
keepalive = 5
# Each worker gets its own listening socket, so the kernel spreads connections
# across workers instead of one worker accepting them all.
reuse_port = True
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 20
max_requests = 10_000
max_requests_jitter = 1_000
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
