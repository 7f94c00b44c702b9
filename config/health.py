"""
Liveness and readiness probes for load balancers and orchestrators.

`/readyz` answers one question, whether this web process can serve, and it can
without the broker, the cache or beat: publishing falls back to the sweeper and
throttles count per process while Redis is away (DESIGN.md, "Integrity rules").
So only the database makes it 503. Its body names each dependency and whether it
answers; why one does not goes to the log, never to whoever asks.
"""

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from .celery import app as celery_app

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


@require_GET
def healthz(request):
    """The process is up; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    with celery_app.connection_for_write() as conn:
        # One attempt: a probe must answer quickly, broker or not.
        conn.ensure_connection(max_retries=0, timeout=2)


def _cache() -> None:
    cache.get("readyz")


def _beat() -> None:
    from incidents.clock import heartbeat_age

    limit = settings.HEARTBEAT_STALE_TICKS * settings.ESCALATION_TICK_SECONDS
    age = heartbeat_age()
    if age is None:
        raise RuntimeError("the sweeper has never run (is celery beat running?)")
    if age > limit:
        raise RuntimeError(f"the sweeper last ran {age:.0f} s ago (limit {limit:.0f} s)")


CHECKS = {"database": _database, "broker": _broker, "cache": _cache, "beat": _beat}


@require_GET
def readyz(request):
    """200 while the database answers (`degraded` if something else does not), 503 when it does not."""
    answers = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # any failure means "does not answer"; the log says why
            logger.warning("readyz: %s does not answer: %s: %s", name, type(exc).__name__, exc)
            answers[name] = "down"
        else:
            answers[name] = "ok"
    if answers["database"] != "ok":
        response = JsonResponse({"status": "unavailable", "dependencies": answers}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    status = "ok" if set(answers.values()) == {"ok"} else "degraded"
    return JsonResponse({"status": status, "dependencies": answers})
