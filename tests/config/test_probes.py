"""/healthz and /readyz: what a load balancer asks."""

from datetime import timedelta

from django.test import Client


def test_healthz(db):
    assert Client().get("/healthz").status_code == 200


def test_readyz_when_everything_answers(db):
    from incidents import clock

    clock.sweep()  # what beat does every tick; it leaves the heartbeat
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok"}


def test_readyz_fails_when_the_sweeper_is_stale(db, settings):
    import time_machine
    from django.utils import timezone

    from incidents import clock

    assert Client().get("/readyz").json()["failing"]["beat"].startswith("the sweeper has never")
    clock.sweep()
    later = timezone.now() + timedelta(seconds=3 * settings.ESCALATION_TICK_SECONDS + 1)
    with time_machine.travel(later):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert set(response.json()["failing"]) == {"beat"}


def test_readyz_names_the_broker_when_it_is_down(db, settings):
    from config.celery import app

    original = app.conf.broker_url, app.conf.broker_transport
    app.conf.broker_url, app.conf.broker_transport = "redis://127.0.0.1:1/0", None  # port 1: nobody
    try:
        response = Client().get("/readyz")
    finally:
        app.conf.broker_url, app.conf.broker_transport = original
    assert response.status_code == 503
    assert "broker" in response.json()["failing"]
    assert "database" not in response.json()["failing"]
