"""Every (state, action) pair through the API: allowed ones succeed, the rest answer 409."""

import pytest

from incidents.models import EventKind, Notification, TimelineEvent
from tests.conftest import complete_required_steps

STATES = ["detected", "acknowledged", "investigated", "resolved", "reviewed"]
BODIES = {
    "claim": {},
    "investigate": {},
    "resolve": {"resolution": "Apologised publicly, refunded the order."},
    "review": {
        "summary": "Handled in 40 min",
        "root_cause": "Courier delay",
        "lessons": "Warn customers earlier",
        "follow_ups": ["Update delivery FAQ"],
    },
    "reopen": {"reason": "The wave came back"},
    "reassign": {"assignee": "dave"},
}
# (state, action) → the state after it; pairs not listed must be refused.
ALLOWED = {
    ("detected", "claim"): "acknowledged",
    ("acknowledged", "investigate"): "investigated",
    ("acknowledged", "reassign"): "acknowledged",
    ("investigated", "resolve"): "resolved",
    ("investigated", "reassign"): "investigated",
    ("resolved", "review"): "reviewed",
    ("resolved", "reopen"): "investigated",
}
EVENT_OF = {
    "claim": "claimed",
    "investigate": "investigating",
    "resolve": "resolved",
    "review": "reviewed",
    "reopen": "reopened",
    "reassign": "reassigned",
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", list(BODIES))
def test_state_action_table(state, action, api, file_incident, incident_in, alice, bob, dave):
    incident = incident_in(file_incident(), state, manager=alice, responder=bob)
    if action == "resolve" and state == "investigated":
        complete_required_steps(incident, bob)
    events_before = TimelineEvent.all_brands.filter(incident=incident).count()

    response = api(alice).post(f"/api/v1/incidents/{incident.pk}/{action}/", BODIES[action], format="json")

    incident.refresh_from_db()
    events_after = TimelineEvent.all_brands.filter(incident=incident).count()
    if (state, action) in ALLOWED:
        assert response.status_code == 200, response.data
        assert response.data["state"] == ALLOWED[(state, action)] == incident.state
        last = TimelineEvent.all_brands.filter(incident=incident).last()
        assert last.kind == EVENT_OF[action]
        assert last.actor_label == "alice"
        assert events_after == events_before + 1
    else:
        assert response.status_code == 409, response.data
        expected = "already_claimed" if (state, action) == ("acknowledged", "claim") else "invalid_transition"
        assert response.data["code"] == expected
        assert response.data["state"] == state
        assert incident.state == state
        assert events_after == events_before


def test_claim_sets_assignee_and_ack_time(api, file_incident, bob):
    incident = file_incident(severity="critical")
    response = api(bob).post(f"/api/v1/incidents/{incident.pk}/claim/")
    assert response.status_code == 200
    assert response.data["assignee"] == "bob"
    assert response.data["acknowledged_at"] is not None
    assert response.data["ack_breached"] is False
    assert "investigate" in response.data["available_transitions"]


def test_claiming_own_claim_again_is_a_no_op(api, file_incident, bob):
    incident = file_incident()
    client = api(bob)
    first = client.post(f"/api/v1/incidents/{incident.pk}/claim/")
    second = client.post(f"/api/v1/incidents/{incident.pk}/claim/")
    assert second.status_code == 200
    assert second.data["acknowledged_at"] == first.data["acknowledged_at"]
    kinds = list(TimelineEvent.all_brands.filter(incident=incident).values_list("kind", flat=True))
    assert kinds.count(EventKind.CLAIMED) == 1


def test_resolve_needs_a_resolution(api, file_incident, incident_in, alice, bob):
    incident = incident_in(file_incident(), "investigated", manager=alice, responder=bob)
    for body in ({}, {"resolution": ""}, {"resolution": "   "}):
        response = api(bob).post(f"/api/v1/incidents/{incident.pk}/resolve/", body, format="json")
        assert response.status_code == 400
        assert "resolution" in response.data
    incident.refresh_from_db()
    assert incident.state == "investigated"


def test_review_needs_every_field(api, file_incident, incident_in, alice, bob):
    incident = incident_in(file_incident(), "resolved", manager=alice, responder=bob)
    response = api(alice).post(
        f"/api/v1/incidents/{incident.pk}/review/", {"summary": "only this"}, format="json"
    )
    assert response.status_code == 400
    assert {"root_cause", "lessons", "follow_ups"} <= set(response.data)


def test_review_stores_the_document_and_its_figures(api, file_incident, incident_in, alice, bob):
    incident = incident_in(file_incident(), "resolved", manager=alice, responder=bob)
    response = api(alice).post(
        f"/api/v1/incidents/{incident.pk}/review/",
        {
            **BODIES["review"],
            "follow_ups": [
                "Update FAQ",
                {"title": "Brief couriers", "owner": "bob", "due_date": "2026-12-01"},
            ],
        },
        format="json",
    )
    assert response.status_code == 200, response.data
    review = response.data["review"]
    assert review["root_cause"] == "Courier delay"
    assert [(f["title"], f["owner"], f["due_date"], f["status"]) for f in review["follow_ups"]] == [
        ("Update FAQ", None, None, "open"),
        ("Brief couriers", "bob", "2026-12-01", "open"),
    ]
    figures = review["figures"]
    assert figures["ack_sla_met"] is True and figures["escalations"] == 0
    assert figures["steps_done"] == figures["steps_total"] - len(
        [s for s in response.data["steps"] if s["completed_at"] is None]
    )
    assert figures["time_to_acknowledge_seconds"] >= 0
    assert response.data["reviewed_at"] is not None
    assert response.data["available_transitions"] == []

    done = api(bob).post(
        f"/api/v1/incidents/{incident.pk}/follow-ups/{review['follow_ups'][1]['id']}/complete/"
    )
    assert done.status_code == 200
    assert done.data["review"]["follow_ups"][1]["status"] == "done"


def test_review_follow_up_owner_must_be_a_member(api, file_incident, incident_in, alice, bob, mallory):
    incident = incident_in(file_incident(), "resolved", manager=alice, responder=bob)
    response = api(alice).post(
        f"/api/v1/incidents/{incident.pk}/review/",
        {**BODIES["review"], "follow_ups": [{"title": "x", "owner": "mallory"}]},
        format="json",
    )
    assert response.status_code == 400
    assert "follow_ups" in response.data
    incident.refresh_from_db()
    assert incident.state == "resolved"


def test_reopen_keeps_the_ack_clock(api, file_incident, incident_in, alice, bob):
    incident = incident_in(file_incident(), "resolved", manager=alice, responder=bob)
    acknowledged_at, ack_due_at = incident.acknowledged_at, incident.ack_due_at
    response = api(bob).post(f"/api/v1/incidents/{incident.pk}/reopen/", {"reason": "again"}, format="json")
    assert response.status_code == 200
    incident.refresh_from_db()
    assert (incident.acknowledged_at, incident.ack_due_at) == (acknowledged_at, ack_due_at)
    assert incident.resolved_at is None
    assert TimelineEvent.all_brands.filter(incident=incident).last().data == {"reason": "again"}


def test_reassign_to_non_responder_is_400(api, file_incident, incident_in, alice, bob, carol, mallory):
    incident = incident_in(file_incident(), "acknowledged", manager=alice, responder=bob)
    for target in ("carol", "mallory", "nobody"):
        response = api(bob).post(
            f"/api/v1/incidents/{incident.pk}/reassign/", {"assignee": target}, format="json"
        )
        assert response.status_code == 400, target
        assert "assignee" in response.data
    incident.refresh_from_db()
    assert incident.assignee == bob


def test_reassign_moves_the_incident(api, file_incident, incident_in, alice, bob, dave):
    incident = incident_in(file_incident(), "acknowledged", manager=alice, responder=bob)
    response = api(bob).post(
        f"/api/v1/incidents/{incident.pk}/reassign/", {"assignee": "dave"}, format="json"
    )
    assert response.status_code == 200
    assert response.data["assignee"] == "dave"
    event = TimelineEvent.all_brands.filter(incident=incident).last()
    assert (event.kind, event.data["from"], event.data["to"]) == ("reassigned", "bob", "dave")
    # bob is no longer the assignee: he cannot move it on any more.
    response = api(bob).post(f"/api/v1/incidents/{incident.pk}/investigate/")
    assert response.status_code == 403


def test_review_is_the_only_way_into_reviewed(api, alice, bob, file_incident, incident_in):
    incident = incident_in(file_incident(), "resolved", manager=alice, responder=bob)
    with pytest.raises(AttributeError):
        incident.state = "reviewed"  # protected: only a transition may change it
    response = api(alice).post(
        "/api/v1/incidents/", {"brand": "acme", "title": "t", "state": "reviewed"}, format="json"
    )
    assert response.status_code == 400  # and no endpoint accepts it as input
    assert (
        api(alice)
        .patch(f"/api/v1/incidents/{incident.pk}/", {"state": "reviewed"}, format="json")
        .status_code
        == 405
    )
    incident.refresh_from_db()
    assert incident.state == "resolved"


def test_the_new_assignee_is_told_and_the_timeline_says_how_it_went(
    api, file_incident, incident_in, alice, bob, dave
):
    incident = incident_in(file_incident(), "acknowledged", manager=alice, responder=bob)
    dave.email = "dave@acme.test"  # a way to reach him: his account e-mail
    dave.save(update_fields=["email"])
    reassign = f"/api/v1/incidents/{incident.pk}/reassign/"
    assert api(alice).post(reassign, {"assignee": "dave"}, format="json").status_code == 200
    told = Notification.all_brands.get(incident=incident, reason="reassigned")
    assert (told.recipient, told.target) == (dave, "dave@acme.test")
    assert (told.payload["event"], told.payload["from"]) == ("reassigned", "bob")
    assert incident.title in told.subject
    event = TimelineEvent.all_brands.get(incident=incident, kind="reassigned")
    assert event.data["notified"] == ["dave"] and event.data["recipients"][0]["notification"] == told.pk
    # Taking it oneself tells nobody: alice knows what she just did.
    assert api(alice).post(reassign, {"assignee": "alice"}, format="json").status_code == 200
    assert Notification.all_brands.filter(incident=incident, reason="reassigned").count() == 1
