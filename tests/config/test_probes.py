"""/healthz and /readyz: what a load balancer asks."""

import logging
from datetime import timedelta

from django.db import OperationalError
from django.test import Client

from config import health

EVERYTHING_ANSWERS = {"database": "ok", "broker": "ok", "cache": "ok", "beat": "ok"}


def test_healthz(db):
    assert Client().get("/healthz").status_code == 200


def test_readyz_when_everything_answers(db):
    from incidents import clock

    clock.sweep()  # what beat does every tick; it leaves the heartbeat
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "dependencies": EVERYTHING_ANSWERS}


def test_a_stale_sweeper_is_named_but_the_web_stays_ready(db, settings):
    import time_machine
    from django.utils import timezone

    from incidents import clock

    assert Client().get("/readyz").json()["dependencies"]["beat"] == "down"  # never ran
    clock.sweep()
    later = timezone.now() + timedelta(seconds=3 * settings.ESCALATION_TICK_SECONDS + 1)
    with time_machine.travel(later):
        response = Client().get("/readyz")
    # The web serves without beat (escalations wait; the heartbeat ping pages someone).
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "dependencies": {**EVERYTHING_ANSWERS, "beat": "down"}}


def test_a_web_without_its_broker_stays_ready_and_says_so(db, caplog):
    from config.celery import app
    from incidents import clock

    clock.sweep()
    original = app.conf.broker_url, app.conf.broker_transport
    app.conf.broker_url, app.conf.broker_transport = "redis://127.0.0.1:1/0", None  # port 1: nobody
    try:
        with caplog.at_level(logging.WARNING, logger="config.health"):
            response = Client().get("/readyz")
    finally:
        app.conf.broker_url, app.conf.broker_transport = original
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "dependencies": {**EVERYTHING_ANSWERS, "broker": "down"}}
    # Why goes to the log, not to whoever asks.
    assert "readyz: broker does not answer" in caplog.text
    assert "127.0.0.1:1" not in response.content.decode()


def test_readyz_is_503_with_retry_after_without_the_database(db, monkeypatch, caplog):
    def database_down():
        raise OperationalError("connection to server at 10.0.0.7 failed: password authentication failed")

    monkeypatch.setitem(health.CHECKS, "database", database_down)
    with caplog.at_level(logging.WARNING, logger="config.health"):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response.json()["status"] == "unavailable"
    assert response.json()["dependencies"]["database"] == "down"
    assert "10.0.0.7" not in response.content.decode()
    assert "10.0.0.7" in caplog.text
