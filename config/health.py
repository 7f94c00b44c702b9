"""Liveness and readiness probes for load balancers and orchestrators."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from .celery import app as celery_app


@require_GET
def healthz(request):
    """The process is up; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


def _database_ok() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means "not ready", and says why
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


def _broker_ok() -> str | None:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


def _beat_ok() -> str | None:
    from incidents.clock import heartbeat_age

    limit = settings.HEARTBEAT_STALE_TICKS * settings.ESCALATION_TICK_SECONDS
    try:
        age = heartbeat_age()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    if age is None:
        return "the sweeper has never run (is celery beat running?)"
    if age > limit:
        return f"the sweeper last ran {age:.0f} s ago (limit {limit:.0f} s)"
    return None


@require_GET
def readyz(request):
    """200 when the database, the broker and the beat sweeper answer; 503 naming what does not."""
    checks = [("database", _database_ok), ("broker", _broker_ok)]
    if settings.READYZ_CHECKS_BEAT:
        checks.append(("beat", _beat_ok))
    failing = {name: error for name, check in checks if (error := check())}
    if failing:
        return JsonResponse({"status": "unavailable", "failing": failing}, status=503)
    return JsonResponse({"status": "ok"})
