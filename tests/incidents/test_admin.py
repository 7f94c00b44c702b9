"""The admin's transition actions go through the services."""

import pytest

from incidents.models import Incident
from tests.conftest import complete_required_steps


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
