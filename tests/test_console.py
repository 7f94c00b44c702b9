"""The web console through Django's test client (the browser tests are in test_browser.py)."""

import pytest
from django.test import Client

from incidents.models import SlaPolicy


@pytest.fixture
def web():
    def _login(user):
        client = Client()
        client.force_login(user)
        return client

    return _login


def test_pages_need_a_login(db):
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert Client().get("/login/").status_code == 200


def test_queue_shows_my_brands_open_incidents_by_deadline(web, bob, globex, mallory, file_incident):
    low = file_incident(title="Low one", severity="low")
    critical = file_incident(title="Critical one", severity="critical")
    file_incident(brand=globex, by=mallory, title="Globex secret")
    page = web(bob).get("/").content.decode()
    assert page.index("Critical one") < page.index("Low one")
    assert "Globex secret" not in page
    rows = web(bob).get("/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in rows and f'data-incident="{critical.pk}"' in rows
    assert f'data-incident="{low.pk}"' not in web(bob).get("/?severity=critical").content.decode()


def test_other_brands_pages_are_404(web, bob, globex, mallory, file_incident):
    theirs = file_incident(brand=globex, by=mallory)
    client = web(bob)
    assert client.get(f"/incidents/{theirs.pk}/").status_code == 404
    assert client.post(f"/incidents/{theirs.pk}/claim/").status_code == 404
    assert client.get("/brands/globex/settings/").status_code == 404
    assert client.get("/brands/globex/dashboard/").status_code == 404
    assert client.get("/brands/acme/settings/").status_code == 403  # bob is only a responder


def test_claim_and_complete_a_step_through_the_console(web, bob, file_incident):
    incident = file_incident()
    client = web(bob)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'data-action="claim"' in page
    client.post(f"/incidents/{incident.pk}/claim/")
    incident.refresh_from_db()
    assert (incident.state, incident.assignee) == ("acknowledged", bob)
    step = incident.checklist.first()
    client.post(f"/incidents/{incident.pk}/steps/{step.pk}/complete/", {"note": "done"})
    step.refresh_from_db()
    assert step.completed_by == bob


def test_refused_action_is_a_message_not_an_error(web, bob, alice, file_incident, incident_in):
    incident = incident_in(file_incident(), "investigated", manager=alice, responder=bob)
    response = web(bob).post(f"/incidents/{incident.pk}/resolve/", {"resolution": "x"}, follow=True)
    assert response.status_code == 200
    assert "Required playbook steps are still open." in response.content.decode()
    incident.refresh_from_db()
    assert incident.state == "investigated"


def test_sla_form_rejects_bad_values_next_to_the_field(web, alice):
    client = web(alice)
    good = {
        f"{s}_{k}_seconds": 600 for s in ("critical", "high", "medium", "low") for k in ("ack", "resolve")
    }
    bad = client.post("/brands/acme/settings/", {"section": "sla", **good, "critical_ack_seconds": "0"})
    assert bad.status_code == 200
    assert 'class="field invalid"' in bad.content.decode()
    assert not SlaPolicy.objects.exists()
    ok = client.post("/brands/acme/settings/", {"section": "sla", **good, "critical_ack_seconds": "300"})
    assert ok.status_code == 302
    assert SlaPolicy.objects.get(severity="critical").ack_seconds == 300


def test_key_is_shown_once(web, alice):
    response = web(alice).post("/brands/acme/settings/", {"section": "key", "name": "youscan"}, follow=True)
    assert "shown once" in response.content.decode()


def test_csrf_is_enforced(bob, file_incident):
    incident = file_incident()
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    assert client.post(f"/incidents/{incident.pk}/claim/").status_code == 403


def test_console_speaks_russian(web, bob, file_incident):
    file_incident()
    page = web(bob).get("/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Открытые инциденты" in page


def test_dashboard_renders_for_managers(web, alice, bob, file_incident):
    file_incident()
    assert web(alice).get("/brands/acme/dashboard/").status_code == 200


def test_rejected_form_shows_its_errors_next_to_the_field(web, bob, alice, file_incident, incident_in):
    incident = incident_in(file_incident(), "investigated", manager=alice, responder=bob)
    response = web(bob).post(f"/incidents/{incident.pk}/resolve/", {"resolution": ""})
    assert response.status_code == 400
    page = response.content.decode()
    assert page.index("errorlist") < page.index('data-action="resolve"')
    assert "This field is required." in page


def test_hostile_console_input_is_not_a_500(web, alice, bob):
    client = web(alice)
    assert client.get("/?brand=%00&state=x").status_code == 200
    response = client.post("/brands/acme/settings/", {"section": "revoke-key", "key": "abc"})
    assert response.status_code == 302
    response = client.post("/brands/acme/settings/", {"section": "remove-member", "username": "bo\x00b"})
    assert response.status_code == 302


def test_a_storm_incident_page_shows_the_latest_events_and_links_the_rest(web, bob, file_incident, settings):
    from incidents.console import views
    from incidents.models import EventKind, TimelineEvent

    incident = file_incident(dedup_key="storm")
    first_at = TimelineEvent.all_brands.get(incident=incident).at
    TimelineEvent.all_brands.bulk_create(
        [
            TimelineEvent(
                incident=incident,
                at=first_at,
                kind=EventKind.COMMENT,
                actor_label="bob",
                data={"body": f"report {i}"},
            )
            for i in range(views.EVENTS_ON_PAGE + 50)
        ]
    )
    page = web(bob).get(f"/incidents/{incident.pk}/").content.decode()
    assert page.count("report ") == views.EVENTS_ON_PAGE
    assert f"report {views.EVENTS_ON_PAGE + 49}" in page and "report 49<" not in page
    assert f"of {views.EVENTS_ON_PAGE + 51}" in page
    assert f"/api/v1/incidents/{incident.pk}/timeline/?format=csv" in page
    assert web(bob).get(f"/api/v1/incidents/{incident.pk}/timeline/?format=csv").status_code == 200


def test_a_quiet_incident_page_shows_its_whole_timeline(web, bob, file_incident):
    incident = file_incident()
    page = web(bob).get(f"/incidents/{incident.pk}/").content.decode()
    assert "timeline/?format=csv" not in page
