"""
gunicorn settings for the web process: `gunicorn -c config/gunicorn.py config.wsgi`.

Threads, not processes, carry the concurrency: requests mostly wait on
PostgreSQL, and each process keeps its persistent database connections.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "8"))
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
