"""
Status updates and their cadence (API.md, "Incident command"): the brand's policy, updates to
the team or the stakeholders through the outbox, and the reminder timer in frozen time.
The same timer against a live worker is in test_live_updates.py.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from crisis.models import Membership, Role
from crisis.tenancy import Principal
from incidents import clock, command, sla
from incidents.models import Incident, Notification, StatusUpdate, TimelineEvent
from tests.conftest import make_user

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


@pytest.fixture
def team(acme, alice, bob, dave, carol):
    for user in (alice, bob, dave, carol):
        user.email = f"{user.username}@acme.test"
        user.save()
    ceo = make_user("ceo", acme, Role.VIEWER, email="ceo@acme.test")
    Membership.all_brands.filter(user=ceo).update(is_executive=True)
    return acme


def put_policy(api, user, body, slug="acme"):
    return api(user).put(f"/api/v1/brands/{slug}/updates-policy/", body, format="json")


POLICY = {
    "cadence_seconds": {"critical": 900, "high": 1800, "medium": None, "low": None},
    "stakeholder_emails": ["pr@agency.test", "PR@agency.test", "ceo@acme.test", "board@acme.test"],
}


# --- The policy ---------------------------------------------------------------------------


def test_the_default_policy(api, bob, team):
    response = api(bob).get("/api/v1/brands/acme/updates-policy/")
    assert response.status_code == 200
    assert response.data["cadence_seconds"] == {"critical": 1800, "high": 3600, "medium": None, "low": None}


def test_a_manager_sets_the_policy_and_only_managers_read_the_addresses(api, alice, bob, team):
    response = put_policy(api, alice, POLICY)
    assert response.status_code == 200, response.data
    assert response.data["cadence_seconds"]["critical"] == 900
    # One address once, whatever its case.
    assert response.data["stakeholder_emails"] == ["pr@agency.test", "ceo@acme.test", "board@acme.test"]
    seen_by_bob = api(bob).get("/api/v1/brands/acme/updates-policy/").data
    assert seen_by_bob["cadence_seconds"]["critical"] == 900
    assert seen_by_bob["stakeholder_emails"] is None


@pytest.mark.parametrize(
    "body,field",
    [
        ({**POLICY, "cadence_seconds": {**POLICY["cadence_seconds"], "critical": 0}}, "cadence_seconds"),
        ({**POLICY, "cadence_seconds": {"critical": 60}}, "cadence_seconds"),
        ({**POLICY, "stakeholder_emails": ["not an address"]}, "stakeholder_emails"),
        ({**POLICY, "stakeholder_emails": [f"p{i}@x.test" for i in range(51)]}, "stakeholder_emails"),
        ({**POLICY, "extra": 1}, "extra"),
    ],
)
def test_bad_policies_are_a_400(api, alice, team, body, field):
    response = put_policy(api, alice, body)
    assert response.status_code == 400 and field in response.data, response.data


def test_only_managers_write_the_policy(api, bob, mallory, team):
    assert put_policy(api, bob, POLICY).status_code == 403
    assert put_policy(api, mallory, POLICY).status_code == 404


# --- Posting updates ----------------------------------------------------------------------------


def post(api, user, incident, body="We are replying to every comment.", audience="team"):
    return api(user).post(
        f"/api/v1/incidents/{incident.pk}/updates/", {"body": body, "audience": audience}, format="json"
    )


def test_a_team_update_goes_to_responders_and_managers_but_its_author(api, bob, team, file_incident):
    incident = file_incident()
    response = post(api, bob, incident)
    assert response.status_code == 201, response.data
    assert (response.data["author"], response.data["audience"]) == ("bob", "team")
    sent = Notification.all_brands.filter(incident=incident, reason="status_update")
    assert sorted(sent.values_list("recipient__username", flat=True)) == ["alice", "dave"]
    assert "We are replying to every comment." in sent.first().body
    event = TimelineEvent.all_brands.get(incident=incident, kind="status_update")
    assert event.data["audience"] == "team" and sorted(event.data["notified"]) == ["alice", "dave"]
    assert len(event.data["recipients"]) == 2


def test_a_stakeholder_update_goes_to_executives_and_the_policy_s_addresses(
    api, alice, bob, team, file_incident
):
    put_policy(api, alice, POLICY)
    incident = file_incident()
    assert post(api, bob, incident, audience="stakeholders").status_code == 201
    sent = Notification.all_brands.filter(incident=incident, reason="status_update")
    # The executive once (her address in the list too), the others by address.
    assert sorted((r or "", t) for r, t in sent.values_list("recipient__username", "target")) == [
        ("", "board@acme.test"),
        ("", "pr@agency.test"),
        ("ceo", "ceo@acme.test"),
    ]
    outsider = sent.get(target="pr@agency.test")
    assert "/incidents/" not in outsider.body  # no console link for people without an account
    assert "/incidents/" in sent.get(target="ceo@acme.test").body
    event = TimelineEvent.all_brands.get(incident=incident, kind="status_update")
    assert event.data["addresses"] == 2
    assert "pr@agency.test" not in str(event.data)  # the timeline is read by every member


@pytest.mark.parametrize(
    "body,field",
    [
        ({"body": "x", "audience": "everyone"}, "audience"),
        ({"body": "", "audience": "team"}, "body"),
        ({"audience": "team"}, "body"),
    ],
)
def test_bad_updates_are_a_400(api, bob, team, file_incident, body, field):
    incident = file_incident()
    response = api(bob).post(f"/api/v1/incidents/{incident.pk}/updates/", body, format="json")
    assert response.status_code == 400 and field in response.data
    assert not StatusUpdate.all_brands.exists()


def test_who_may_post_updates(api, carol, mallory, alice, bob, team, file_incident, incident_in):
    incident = file_incident()
    assert post(api, carol, incident).status_code == 403
    assert post(api, mallory, incident).status_code == 404
    reviewed = incident_in(file_incident(), "reviewed", manager=alice, responder=bob)
    refused = post(api, bob, reviewed)
    assert refused.status_code == 409 and refused.data["code"] == "invalid_transition"


def test_the_update_list_costs_a_fixed_number_of_queries(
    api, bob, dave, team, file_incident, django_assert_max_num_queries
):
    incident = file_incident()
    for i in range(30):
        command.status_update_post(
            incident_id=incident.pk,
            principal=Principal.for_user(bob if i % 2 else dave),
            body=f"update {i}",
            audience="team",
        )
    client = api(bob)
    # token, roles, the incident, count, the page with its authors.
    with django_assert_max_num_queries(6):
        response = client.get(f"/api/v1/incidents/{incident.pk}/updates/?page_size=25")
    assert response.status_code == 200
    assert response.data["count"] == 30
    assert [row["body"] for row in response.data["results"][:2]] == ["update 29", "update 28"]
    assert len(response.data["results"]) == 25


# --- The cadence ----------------------------------------------------------------------------------


def test_the_beats_of_the_cadence():
    beat = timedelta(seconds=600)
    due = sla.update_due_at
    assert due(acknowledged_at=T0, last_update_at=None, cadence_seconds=None, now=T0) is None
    assert due(acknowledged_at=None, last_update_at=T0, cadence_seconds=600, now=T0) is None
    assert due(acknowledged_at=T0, last_update_at=None, cadence_seconds=600, now=T0) == T0 + beat
    # From the later of acknowledgement and the last update.
    assert (
        due(acknowledged_at=T0, last_update_at=T0 + MIN, cadence_seconds=600, now=T0 + MIN) == T0 + MIN + beat
    )
    # Beats missed: the latest is due at once, unless it was reminded already.
    late = T0 + 25 * MIN
    assert due(acknowledged_at=T0, last_update_at=None, cadence_seconds=600, now=late) == T0 + 2 * beat
    assert (
        due(acknowledged_at=T0, last_update_at=None, cadence_seconds=600, now=late, reminded_at=T0 + 21 * MIN)
        == T0 + 3 * beat
    )


def reminders(incident):
    return list(
        TimelineEvent.all_brands.filter(incident=incident, kind="update_due")
        .order_by("at")
        .values_list("at", flat=True)
    )


def sweep_at(moment):
    with time_machine.travel(moment, tick=False):
        clock.sweep()


def test_a_missed_update_reminds_the_comms_lead_else_the_assignee_once_per_beat(
    api, alice, bob, dave, team, file_incident, incident_in
):
    with time_machine.travel(T0, tick=False):
        incident = file_incident(severity="critical")  # default cadence: 30 min
        incident_in(incident, "acknowledged", manager=alice, responder=bob)
    assert Incident.all_brands.get(pk=incident.pk).update_due_at == T0 + 30 * MIN

    sweep_at(T0 + 29 * MIN)
    assert reminders(incident) == []
    sweep_at(T0 + 30 * MIN)
    sweep_at(T0 + 31 * MIN)  # the same beat: nothing more
    assert reminders(incident) == [T0 + 30 * MIN]
    first = Notification.all_brands.get(incident=incident, reason="update_due")
    assert first.recipient.username == "bob"  # no comms lead yet: the assignee

    with time_machine.travel(T0 + 40 * MIN, tick=False):
        command.incident_role_set(
            incident_id=incident.pk, principal=Principal.for_user(alice), role="comms", username="dave"
        )
    sweep_at(T0 + 60 * MIN)
    assert reminders(incident) == [T0 + 30 * MIN, T0 + 60 * MIN]
    second = Notification.all_brands.filter(incident=incident, reason="update_due").order_by("pk").last()
    assert second.recipient.username == "dave"

    # An update starts the count again: the next beat is 30 min after it.
    with time_machine.travel(T0 + 70 * MIN, tick=False):
        command.status_update_post(
            incident_id=incident.pk,
            principal=Principal.for_user(dave),
            body="Refunds are out.",
            audience="team",
        )
    sweep_at(T0 + 90 * MIN)
    assert len(reminders(incident)) == 2
    sweep_at(T0 + 100 * MIN)
    assert reminders(incident)[-1] == T0 + 100 * MIN


def test_workers_down_for_several_beats_remind_once(alice, bob, team, file_incident, incident_in):
    with time_machine.travel(T0, tick=False):
        incident = file_incident(severity="critical")
        incident_in(incident, "acknowledged", manager=alice, responder=bob)
    sweep_at(T0 + 100 * MIN)  # beats at 30, 60 and 90 min all missed
    assert reminders(incident) == [T0 + 100 * MIN]
    assert Incident.all_brands.get(pk=incident.pk).update_due_at == T0 + 120 * MIN


def test_resolution_stops_the_reminders(alice, bob, team, file_incident, incident_in):
    with time_machine.travel(T0, tick=False):
        incident = file_incident(severity="critical")
        incident_in(incident, "resolved", manager=alice, responder=bob)
    assert Incident.all_brands.get(pk=incident.pk).update_due_at is None
    sweep_at(T0 + 100 * MIN)
    assert reminders(incident) == []


def test_a_severity_change_retimes_the_beat(alice, bob, team, file_incident, incident_in):
    with time_machine.travel(T0, tick=False):
        incident = file_incident(severity="medium")  # no cadence
        incident_in(incident, "acknowledged", manager=alice, responder=bob)
    assert Incident.all_brands.get(pk=incident.pk).update_due_at is None
    with time_machine.travel(T0 + 45 * MIN, tick=False):
        command.incident_severity_change(
            incident_id=incident.pk, principal=Principal.for_user(alice), severity="critical", reason="TV"
        )
    # The 30-min beat passed unreminded: it is due (and reminded) at once.
    assert reminders(incident) == [T0 + 45 * MIN]
    assert Incident.all_brands.get(pk=incident.pk).update_due_at == T0 + 60 * MIN
