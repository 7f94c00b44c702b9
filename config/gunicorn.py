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
# (the GIL), so a second process per core only competes with the first.
# Four threads: a request here is mostly Python, not waiting on PostgreSQL, so more
# threads only take the GIL from each other (both measured with bench/filing.py; the
# figures are in docs/benchmarks.md). Requests beyond the threads wait in the listen
# queue, in arrival order. Each thread may hold a database connection (CONN_MAX_AGE):
# workers x threads per host must fit PostgreSQL's max_connections.
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


def pre_request(worker, req):
    """
    Close the connection after answering a request whose body the application will not
    read to the end: a Content-Length above the body limit (refused unread with a 413 by
    api.middleware.RequestBodyLimitMiddleware), or a chunked body (read only up to it).

    gunicorn ignores a Connection header from the application and promises keep-alive,
    then drains at most 64 KiB of what was left unread and drops the connection instead;
    marking the request makes it answer `Connection: close` and close cleanly.
    """
    from django.conf import settings

    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    headers = dict(req.headers)
    length = headers.get("CONTENT-LENGTH", "")
    chunked = "chunked" in headers.get("TRANSFER-ENCODING", "").lower()
    if chunked or (limit is not None and length.isdigit() and int(length) > limit):
        req.force_close()
