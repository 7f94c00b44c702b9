"""Incident roles (API.md, "Incident command"): commander, comms lead, scribe beside the assignee."""

import pytest

from crisis.models import Role
from incidents.models import Incident, Notification, TimelineEvent
from tests.conftest import make_user


@pytest.fixture
def incident(acme, alice, bob, dave, file_incident, incident_in):
    for user in (alice, bob, dave):
        user.email = f"{user.username}@acme.test"
        user.save()
    return incident_in(file_incident(), "acknowledged", manager=alice, responder=bob)


def give(api, user, incident, role, username):
    return api(user).post(
        f"/api/v1/incidents/{incident.pk}/roles/", {"role": role, "username": username}, format="json"
    )


def test_a_manager_gives_roles_and_each_person_is_told(api, alice, bob, dave, incident):
    response = give(api, alice, incident, "commander", "dave")
    assert response.status_code == 200, response.data
    assert response.data["roles"] == {"commander": "dave", "comms": None, "scribe": None}
    # One person may hold several roles.
    assert give(api, alice, incident, "scribe", "dave").data["roles"]["scribe"] == "dave"
    told = Notification.all_brands.filter(incident=incident, reason="role_assigned")
    assert sorted(told.values_list("recipient__username", "channel")) == [
        ("dave", "email"),
        ("dave", "email"),
    ]
    assert "commander" in told.order_by("pk").first().subject
    events = TimelineEvent.all_brands.filter(incident=incident, kind="role_assigned").order_by("pk")
    assert [(e.data["role"], e.data["username"], e.actor_label) for e in events] == [
        ("commander", "dave", "alice"),
        ("scribe", "dave", "alice"),
    ]
    assert events[0].data["recipients"][0]["username"] == "dave"
    # The incident as every reader gets it says who holds what.
    assert api(bob).get(f"/api/v1/incidents/{incident.pk}/").data["roles"]["commander"] == "dave"


def test_the_commander_gives_roles_and_clears_them(api, alice, bob, dave, incident):
    assert give(api, alice, incident, "commander", "dave").status_code == 200
    response = give(api, dave, incident, "comms", "bob")
    assert response.status_code == 200, response.data
    assert response.data["roles"]["comms"] == "bob"
    cleared = give(api, dave, incident, "comms", None)
    assert cleared.status_code == 200 and cleared.data["roles"]["comms"] is None
    last = TimelineEvent.all_brands.filter(incident=incident, kind="role_assigned").order_by("pk").last()
    assert (last.data["username"], last.data["previous"]) == (None, "bob")


def test_giving_a_role_again_changes_nothing(api, alice, incident):
    give(api, alice, incident, "scribe", "bob")
    give(api, alice, incident, "scribe", "bob")
    assert TimelineEvent.all_brands.filter(incident=incident, kind="role_assigned").count() == 1


@pytest.mark.parametrize("who", ["bob", "dave", "carol"])
def test_only_a_manager_or_the_commander_gives_roles(api, who, alice, bob, carol, dave, incident):
    """bob is the assignee, dave a responder, carol a viewer: none of them may."""
    user = {"bob": bob, "dave": dave, "carol": carol}[who]
    response = give(api, user, incident, "scribe", "dave")
    assert response.status_code == 403, response.data
    assert Incident.all_brands.get(pk=incident.pk).scribe_id is None


@pytest.mark.parametrize(
    "username",
    ["mallory", "carol", "nobody", "retired"],
    ids=["another brand's manager", "a viewer", "no such user", "a deactivated responder"],
)
def test_only_active_responders_and_managers_of_the_brand_hold_roles(
    api, acme, alice, carol, mallory, incident, username
):
    retired = make_user("retired", acme, Role.RESPONDER)
    retired.is_active = False
    retired.save()
    response = give(api, alice, incident, "commander", username)
    assert response.status_code == 400, response.data
    assert list(response.data) == ["username"]
    assert Incident.all_brands.get(pk=incident.pk).commander_id is None
    assert not Notification.all_brands.filter(reason="role_assigned").exists()


@pytest.mark.parametrize(
    "body",
    [{"role": "ceo", "username": "bob"}, {"role": "scribe"}, {"role": "scribe", "username": "bob", "x": 1}],
)
def test_bad_role_input_is_a_400(api, alice, incident, body):
    assert give_raw(api, alice, incident, body).status_code == 400


def give_raw(api, user, incident, body):
    return api(user).post(f"/api/v1/incidents/{incident.pk}/roles/", body, format="json")


def test_a_closed_incident_takes_no_roles(api, alice, bob, file_incident, incident_in):
    closed = incident_in(file_incident(), "reviewed", manager=alice, responder=bob)
    response = give(api, alice, closed, "scribe", "bob")
    assert response.status_code == 409 and response.data["code"] == "invalid_transition"


def test_another_brand_s_incident_is_a_404(api, mallory, incident):
    assert give(api, mallory, incident, "scribe", "mallory").status_code == 404


def test_an_escalation_names_the_roles(acme, alice, bob, dave, incident):
    """The bodies the outbox sends (e-mail, chat) say who holds the roles."""
    from incidents import messages

    incident.commander, incident.comms_lead = dave, bob
    text = messages.body(incident, messages.display_labels())
    assert "Commander: dave" in text and "Comms lead: bob" in text
    assert text.rstrip().endswith(messages.incident_link(incident))
