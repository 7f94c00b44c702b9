"""
One rule per action, whichever entry point: the API, the console and the admin all
refuse what the service refuses (the rules live in the service), and nothing is saved.
"""

import pytest

from api.errors import InvalidInput
from crisis.tenancy import Principal
from incidents import services
from incidents.models import FollowUp, Incident
from tests.conftest import client_for

TOO_LONG_TITLE = "x" * 600  # FollowUp.title holds 500


@pytest.fixture
def resolved(file_incident, incident_in, alice, bob):
    return incident_in(file_incident(), "resolved", manager=alice, responder=bob)


def review_fields(**changes):
    return {
        "summary": "s",
        "root_cause": "r",
        "lessons": "l",
        "follow_ups": [{"title": "Answer FAQ"}],
        **changes,
    }


def assert_still_resolved(incident):
    assert Incident.all_brands.get(pk=incident.pk).state == "resolved"
    assert not FollowUp._base_manager.filter(incident_id=incident.pk).exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"follow_ups": [{"title": TOO_LONG_TITLE}]}, "follow_ups"),
        ({"follow_ups": [{"title": "   "}]}, "follow_ups"),
        ({"follow_ups": [{"title": f"f{i}"} for i in range(101)]}, "follow_ups"),
        ({"summary": "   "}, "summary"),
        ({"lessons": "l" * 20_001}, "lessons"),
    ],
)
def test_the_review_service_names_the_field_it_refuses(resolved, alice, changes, field):
    with pytest.raises(InvalidInput) as refused:
        services.incident_review(
            incident_id=resolved.pk, principal=Principal.for_user(alice), **review_fields(**changes)
        )
    assert refused.value.field == field
    assert_still_resolved(resolved)


def test_the_api_refuses_a_too_long_follow_up(resolved, alice):
    response = client_for(alice).post(
        f"/api/v1/incidents/{resolved.pk}/review/",
        review_fields(follow_ups=[{"title": TOO_LONG_TITLE}]),
        format="json",
    )
    assert response.status_code == 400
    assert "follow_ups" in response.json()
    assert_still_resolved(resolved)


def test_the_console_refuses_a_too_long_follow_up(client, resolved, alice):
    client.force_login(alice)
    response = client.post(
        f"/incidents/{resolved.pk}/review/",
        {"summary": "s", "root_cause": "r", "lessons": "l", "follow_ups": TOO_LONG_TITLE},
    )
    # The review comes back as typed, the rule said next to the field, in words.
    assert response.status_code == 400
    page = response.content.decode()
    assert "Ensure this field has no more than 500 characters." in page
    assert TOO_LONG_TITLE in page
    assert_still_resolved(resolved)


def test_the_admin_refuses_a_too_long_follow_up_without_a_500(client, resolved, alice):
    alice.is_staff = True
    alice.save()
    client.force_login(alice)
    response = client.post(
        "/admin/incidents/incident/",
        {
            "action": "review",
            "_selected_action": [resolved.pk],
            "apply": "1",
            "summary": "s",
            "root_cause": "r",
            "lessons": "l",
            "follow_ups": TOO_LONG_TITLE,
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "follow_ups" in response.content.decode()
    assert_still_resolved(resolved)


@pytest.mark.parametrize("entry", ["api", "console"])
def test_a_blank_resolution_is_refused_everywhere(entry, client, file_incident, incident_in, alice, bob):
    incident = incident_in(file_incident(), "investigated", manager=alice, responder=bob)
    if entry == "api":
        status = (
            client_for(bob)
            .post(f"/api/v1/incidents/{incident.pk}/resolve/", {"resolution": "  "}, format="json")
            .status_code
        )
        assert status == 400
    else:
        client.force_login(bob)
        client.post(f"/incidents/{incident.pk}/resolve/", {"resolution": "  "})
    assert Incident.all_brands.get(pk=incident.pk).state == "investigated"
