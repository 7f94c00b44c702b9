"""Probes, the OpenAPI schema and the admin's transition actions."""

from datetime import timedelta

import pytest
from django.test import Client

from incidents.models import Incident
from tests.conftest import complete_required_steps


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


def test_schema_names_every_contract_path(db):
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/v1/auth/token/",
        "/api/v1/auth/logout/",
        "/api/v1/brands/",
        "/api/v1/brands/{slug}/",
        "/api/v1/brands/{slug}/members/",
        "/api/v1/brands/{slug}/members/{username}/",
        "/api/v1/brands/{slug}/sla/",
        "/api/v1/brands/{slug}/keys/",
        "/api/v1/brands/{slug}/keys/{key_id}/",
        "/api/v1/incidents/",
        "/api/v1/incidents/{id}/",
        "/api/v1/incidents/{id}/claim/",
        "/api/v1/incidents/{id}/investigate/",
        "/api/v1/incidents/{id}/resolve/",
        "/api/v1/incidents/{id}/review/",
        "/api/v1/incidents/{id}/reopen/",
        "/api/v1/incidents/{id}/reassign/",
        "/api/v1/incidents/{id}/timeline/",
        "/api/v1/incidents/{id}/comments/",
    ]:
        assert path in paths, path
    incident = response.json()["components"]["schemas"]["IncidentOutput"]
    assert "state" in incident["properties"]
    assert incident["properties"]["state"].get("readOnly") is True


def test_docs_page_is_served_without_a_cdn(db):
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert b"cdn.jsdelivr" not in response.content
    assert b"unpkg.com" not in response.content


@pytest.fixture
def admin_client_for(client):
    def _login(user):
        user.is_staff = True
        user.save()
        client.force_login(user)
        return client

    return _login


def test_admin_claim_action_goes_through_the_service(admin_client_for, bob, file_incident):
    incident = file_incident()
    client = admin_client_for(bob)
    response = client.post(
        "/admin/incidents/incident/", {"action": "claim", "_selected_action": [incident.pk]}, follow=True
    )
    assert response.status_code == 200
    incident.refresh_from_db()
    assert (incident.state, incident.assignee) == ("acknowledged", bob)
    assert incident.events.model.all_brands.filter(incident=incident, kind="claimed").exists()


def test_admin_resolve_action_asks_for_a_resolution(admin_client_for, alice, bob, file_incident, incident_in):
    incident = incident_in(file_incident(), "investigated", manager=alice, responder=bob)
    complete_required_steps(incident, bob)
    client = admin_client_for(alice)
    form = client.post("/admin/incidents/incident/", {"action": "resolve", "_selected_action": [incident.pk]})
    assert form.status_code == 200
    assert b"resolution" in form.content
    client.post(
        "/admin/incidents/incident/",
        {
            "action": "resolve",
            "_selected_action": [incident.pk],
            "apply": "1",
            "resolution": "Published a clarification",
        },
        follow=True,
    )
    incident = Incident.all_brands.get(pk=incident.pk)
    assert (incident.state, incident.resolution) == ("resolved", "Published a clarification")


def test_admin_refuses_actions_a_role_may_not_take(admin_client_for, carol, file_incident):
    incident = file_incident()
    client = admin_client_for(carol)
    client.post(
        "/admin/incidents/incident/", {"action": "claim", "_selected_action": [incident.pk]}, follow=True
    )
    incident.refresh_from_db()
    assert incident.state == "detected"


def test_errors_speak_russian_when_asked(api, bob, file_incident, incident_in, alice):
    incident = incident_in(file_incident(), "resolved", manager=alice, responder=bob)
    response = api(bob).post(f"/api/v1/incidents/{incident.pk}/claim/", HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 409
    assert response.data["detail"] == "В текущем состоянии инцидента это действие недоступно."
    english = api(bob).post(f"/api/v1/incidents/{incident.pk}/claim/")
    assert english.data["detail"] == "This action is not allowed in the incident's current state."


def test_production_settings_pass_check_deploy():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {
        "PATH": "/usr/bin:/bin",
        "SECRET_KEY": "x" * 60 + "-production-like-secret-key-0123456789",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "desk.example.com",
        "VAR_DIR": "var/test",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DEBUG": "false", "VAR_DIR": "var/test"},
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
