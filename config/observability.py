"""
Request ids, structured logs and Prometheus metrics.

A request id (the caller's `X-Request-ID` if it is sane, else a new one) is
kept in a context variable, stamped on every log record, returned in the
response, and carried as a header into every Celery task the request
publishes, so one id follows a request into its escalations and notifications.
"""

import contextvars
import hmac
import logging
import re
import time
import uuid

from celery.signals import before_task_publish, task_postrun, task_prerun
from django.conf import settings
from django.db.models import Count, Q
from django.http import HttpResponse, HttpResponseForbidden
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every log record."""

    def filter(self, record):
        record.request_id = request_id_var.get()
        return True


REQUEST_LATENCY = Histogram(
    "crisis_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class RequestIdMiddleware:
    """Sets the request id for the request's logs and tasks, and times the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        request_id = given if SANE_ID.match(given) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        REQUEST_LATENCY.labels(request.method, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response


@before_task_publish.connect
def _carry_request_id(headers=None, **kwargs):
    if headers is not None and "request_id" not in headers:
        headers["request_id"] = request_id_var.get()


_task_tokens: dict[str, contextvars.Token] = {}


@task_prerun.connect
def _adopt_request_id(task_id=None, task=None, **kwargs):
    request_id = getattr(task.request, "request_id", None) or f"task-{task_id}"
    _task_tokens[task_id] = request_id_var.set(request_id)


@task_postrun.connect
def _drop_request_id(task_id=None, **kwargs):
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        request_id_var.reset(token)


class DeskCollector:
    """Gauges read from the database at scrape time: the database is the source of truth."""

    def collect(self):
        from incidents.clock import HEARTBEAT
        from incidents.models import ClockHeartbeat, Escalation, Incident, Notification

        now = timezone.now()
        by_state = GaugeMetricFamily(
            "crisis_incidents", "Incidents by state and severity.", labels=["state", "severity"]
        )
        for row in Incident.all_brands.values("state", "severity").annotate(n=Count("id")).order_by():
            by_state.add_metric([row["state"], row["severity"]], row["n"])
        yield by_state

        breached = Incident.all_brands.filter(
            Q(acknowledged_at__isnull=True, ack_due_at__lt=now, state="detected")
        )
        yield GaugeMetricFamily(
            "crisis_ack_sla_breached_open",
            "Unacknowledged incidents past their ack deadline.",
            value=breached.count(),
        )

        lateness = HistogramMetricFamily(
            "crisis_escalation_lateness_seconds",
            "Escalated at minus due at, for escalations of the last hour.",
        )
        buckets = (0.5, 1, 2, 5, 10, 30, 60, 300)
        late = [
            (e.fired_at - e.due_at).total_seconds()
            for e in Escalation.all_brands.filter(fired_at__gte=now - timezone.timedelta(hours=1)).only(
                "fired_at", "due_at"
            )[:100_000]
        ]
        lateness.add_metric(
            [],
            [(str(b), sum(1 for x in late if x <= b)) for b in buckets] + [("+Inf", len(late))],
            sum_value=sum(late),
        )
        yield lateness

        beat = ClockHeartbeat.objects.filter(name=HEARTBEAT).first()
        yield GaugeMetricFamily(
            "crisis_sweeper_last_tick_age_seconds",
            "Seconds since the sweeper last finished a tick.",
            value=(now - beat.beat_at).total_seconds() if beat else -1,
        )
        yield GaugeMetricFamily(
            "crisis_sweeper_tick_duration_seconds",
            "How long the last sweeper tick took.",
            value=beat.duration_seconds if beat else -1,
        )
        outbox = dict(Notification.all_brands.values_list("status").annotate(n=Count("id")).order_by())
        yield GaugeMetricFamily(
            "crisis_notifications_pending", "Outbox backlog.", value=outbox.get("pending", 0)
        )
        yield GaugeMetricFamily(
            "crisis_notifications_failed",
            "Notifications given up after all retries.",
            value=outbox.get("failed", 0),
        )


_registry = None


def _metrics_registry():
    global _registry
    if _registry is None:
        from prometheus_client import REGISTRY

        registry = CollectorRegistry()
        if settings.PROMETHEUS_MULTIPROC_DIR:
            # Several gunicorn workers: each writes its samples to files, merged here.
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(registry)
        else:
            registry = REGISTRY
        registry.register(DeskCollector())
        _registry = registry
    return _registry


def metrics(request):
    """
    Prometheus text format, for a scraper sending METRICS_TOKEN as a bearer token.

    Without a token configured it is open only in DEBUG (the embedded desk): in
    production an operator who forgot the token gets a closed endpoint, not the desk's
    incident counts open to anyone.
    """
    token = settings.METRICS_TOKEN
    if not token and not settings.DEBUG:
        return HttpResponseForbidden("set METRICS_TOKEN to scrape /metrics")
    sent = request.headers.get("Authorization", "").encode()
    if token and not hmac.compare_digest(sent, f"Bearer {token}".encode()):
        return HttpResponseForbidden("metrics token required")
    return HttpResponse(generate_latest(_metrics_registry()), content_type=CONTENT_TYPE_LATEST)
