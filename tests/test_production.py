"""Throttling, brute-force protection, request ids, structured logs and metrics."""

import json
import logging

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from config.observability import RequestIdFilter, request_id_var


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()  # locmem in tests: throttle counters start at zero
    yield
    cache.clear()


def test_a_caller_over_its_budget_gets_429_with_retry_after(settings, key_client, acme_key):
    settings.API_THROTTLE_RATE = "5/min"
    codes = [key_client.get("/api/v1/incidents/").status_code for _ in range(7)]
    assert codes == [200] * 5 + [429] * 2
    response = key_client.get("/api/v1/incidents/")
    assert int(response["Retry-After"]) > 0
    assert response.data["code"] == "throttled"


def test_budgets_are_per_caller(settings, api, bob, dave):
    settings.API_THROTTLE_RATE = "3/min"
    first, second = api(bob), api(dave)
    assert [first.get("/api/v1/brands/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert second.get("/api/v1/brands/").status_code == 200


def test_repeated_bad_passwords_lock_the_username_out(settings, bob):
    settings.AXES_FAILURE_LIMIT = 3
    client = APIClient()
    wrong = {"username": "bob", "password": "guess"}
    codes = [client.post("/api/v1/auth/token/", wrong, format="json").status_code for _ in range(3)]
    assert codes == [401, 401, 429]
    locked = client.post("/api/v1/auth/token/", {"username": "bob", "password": "x-bob"}, format="json")
    assert locked.status_code == 429  # even the right password, while locked out
    assert locked.json()["code"] == "locked_out"
    assert int(locked["Retry-After"]) > 0
    console = Client().post("/login/", {"username": "bob", "password": "x-bob"})
    assert console.status_code == 429


def test_request_id_is_returned_and_kept_if_sane(api, bob):
    client = api(bob)
    response = client.get("/api/v1/brands/", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    made_up = client.get("/api/v1/brands/", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert len(made_up["X-Request-ID"]) == 32


def test_request_id_travels_into_published_tasks():
    from celery.signals import before_task_publish

    headers = {}
    token = request_id_var.set("req-42")
    try:
        before_task_publish.send(sender="incidents.tasks.sweep", headers=headers, body={})
    finally:
        request_id_var.reset(token)
    assert headers["request_id"] == "req-42"


def test_log_lines_are_json_with_the_request_id(settings):
    from pythonjsonlogger.json import JsonFormatter

    formatter = JsonFormatter("%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s")
    record = logging.LogRecord("crisis", logging.INFO, __file__, 1, "claimed %s", ("#7",), None)
    token = request_id_var.set("req-7")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = json.loads(formatter.format(record))
    assert (line["request_id"], line["message"]) == ("req-7", "claimed #7")
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "json"


def test_metrics(settings, file_incident, alice):
    from incidents import clock

    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 403  # production without a token: closed
    settings.DEBUG = True  # the embedded desk: open
    file_incident(severity="critical")
    clock.sweep()
    Client().get("/healthz")
    body = Client().get("/metrics").content.decode()
    for name in (
        "crisis_incidents{",
        "crisis_ack_sla_breached_open",
        "crisis_escalation_lateness_seconds_bucket",
        "crisis_sweeper_tick_duration_seconds",
        "crisis_notifications_pending",
        "crisis_notifications_failed",
        "crisis_http_request_duration_seconds_bucket",
    ):
        assert name in body, name
    assert 'crisis_incidents{severity="critical",state="detected"} 1.0' in body
    settings.DEBUG = False
    settings.METRICS_TOKEN = "s3cret"
    assert Client().get("/metrics").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3crét").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200


def test_web_workers_load_every_view_and_keep_it_out_of_the_garbage_collector():
    """A full collection over Django's long-lived objects paused a worker 50+ ms (p99)."""
    import os
    import subprocess
    import sys

    probe = "import gc, sys, config.wsgi; print(gc.get_freeze_count(), 'incidents.api' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "DEBUG": "true"},
        timeout=60,
        check=True,
    )
    frozen, views_loaded = done.stdout.split()
    assert views_loaded == "True"
    assert int(frozen) > 50_000
