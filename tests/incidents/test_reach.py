"""
API.md's one rule for every escalation level: a level that reaches nobody notifies the
brand's managers instead, and its `escalated` event says so in `data.nobody_reached`.
Each kind of level (a role nobody holds, executives missing, a user without a channel or
an e-mail, a member present) fires through the real clock and outbox, with frozen time.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from crisis.models import Membership, Role
from crisis.tenancy import Principal
from incidents import clock, outbox, policies, reach, services
from incidents.models import ContactChannel, Escalation, Notification, TimelineEvent
from tests.conftest import make_user

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(seconds=600)  # critical: ten minutes to acknowledge


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def alice_mail(alice):
    alice.email = "alice@acme.test"
    alice.save()
    return alice


def chain(*levels) -> dict:
    return {"levels": [{"after_seconds": 0, **level} for level in levels], "repeat": 0}


def fire_level_one(acme, file_incident, *levels):
    """File a critical incident under a one-level chain and sweep at its deadline."""
    policies.escalation_policy_set(brand=acme, chain=chain(*levels))
    with time_machine.travel(T0, tick=False):
        incident = file_incident(severity="critical", title="Account blocked")
    with time_machine.travel(DEADLINE, tick=False):
        clock.sweep(plan_ahead=False)
    return incident


def escalated(incident) -> dict:
    return TimelineEvent.all_brands.get(incident=incident, kind="escalated").data


def told(incident) -> list[tuple[str, str, str]]:
    rows = Notification.all_brands.filter(incident=incident, reason="escalated").order_by("pk")
    return [(row.recipient.username, row.channel, row.target) for row in rows]


def test_a_role_nobody_holds_tells_the_managers_instead(acme, alice_mail, file_incident):
    incident = fire_level_one(acme, file_incident, {"roles": ["responder"], "users": []})
    data = escalated(incident)
    assert data["nobody_reached"] == {
        "reason": reach.NO_SUCH_MEMBER,
        "roles": ["responder"],
        "users": [],
        "unreachable": [],
        "instead": ["alice"],
    }
    assert data["notified"] == ["alice"]
    assert told(incident) == [("alice", "email", "alice@acme.test")]
    assert Escalation.all_brands.get(incident=incident).notified == ["alice"]


def test_no_executive_in_the_brand_tells_the_managers_instead(acme, alice_mail, bob, file_incident):
    """The default chain's level 2 names executives; a brand without one still hears of it."""
    bob.email = "bob@acme.test"
    bob.save()
    incident = fire_level_one(acme, file_incident, {"roles": ["executive"], "users": []})
    data = escalated(incident)
    assert data["nobody_reached"]["reason"] == "no_such_member"
    assert data["nobody_reached"]["roles"] == ["executive"]
    assert data["nobody_reached"]["instead"] == ["alice"]
    assert [r["username"] for r in data["recipients"]] == ["alice"]  # not bob: a responder
    # The e-mail goes out through the outbox like any other.
    row = Notification.all_brands.get(incident=incident, reason="escalated")
    assert outbox.deliver(row.pk) == "sent"
    assert mail.outbox[-1].to == ["alice@acme.test"]


def test_an_executive_without_channel_or_e_mail_counts_as_nobody(acme, alice_mail, file_incident):
    ceo = make_user("ceo", acme, Role.VIEWER)  # no e-mail, no channel
    Membership.all_brands.filter(user=ceo).update(is_executive=True)
    incident = fire_level_one(acme, file_incident, {"roles": ["executive"], "users": []})
    why = escalated(incident)["nobody_reached"]
    assert (why["reason"], why["unreachable"], why["instead"]) == ("no_channel_or_email", ["ceo"], ["alice"])
    assert told(incident) == [("alice", "email", "alice@acme.test")]


def test_a_named_user_without_any_channel_or_e_mail(acme, alice_mail, bob, file_incident):
    incident = fire_level_one(acme, file_incident, {"roles": [], "users": ["bob"]})
    why = escalated(incident)["nobody_reached"]
    assert why == {
        "reason": "no_channel_or_email",
        "roles": [],
        "users": ["bob"],
        "unreachable": ["bob"],
        "instead": ["alice"],
    }


def test_a_named_user_who_left_is_no_such_member(acme, alice_mail, bob, file_incident):
    bob.email = "bob@acme.test"
    bob.is_active = False
    bob.save()
    incident = fire_level_one(acme, file_incident, {"roles": [], "users": ["bob"]})
    assert escalated(incident)["nobody_reached"]["reason"] == "no_such_member"
    assert told(incident) == [("alice", "email", "alice@acme.test")]


def test_a_member_present_is_told_and_nobody_else(acme, alice_mail, file_incident):
    ceo = make_user("ceo", acme, Role.VIEWER, email="ceo@acme.test")
    Membership.all_brands.filter(user=ceo).update(is_executive=True)
    incident = fire_level_one(acme, file_incident, {"roles": ["executive"], "users": []})
    data = escalated(incident)
    assert "nobody_reached" not in data
    assert data["notified"] == ["ceo"]
    assert told(incident) == [("ceo", "email", "ceo@acme.test")]  # the managers are not bothered


def test_a_channel_alone_reaches_someone_without_an_e_mail(acme, alice_mail, bob, file_incident):
    ContactChannel.objects.create(
        user=bob, kind="webhook", target="https://hooks.example.com/bob", secret="s"
    )
    incident = fire_level_one(acme, file_incident, {"roles": ["responder"], "users": []})
    data = escalated(incident)
    assert "nobody_reached" not in data
    assert [(r["username"], r["channel"]) for r in data["recipients"]] == [("bob", "webhook")]


def test_the_recipients_name_each_notification_and_its_attempts_carry_the_same_id(
    acme, alice_mail, bob, dave, file_incident
):
    """One entry per person and channel; people it named and could not reach are listed apart."""
    bob.email = "bob@acme.test"
    bob.save()
    ContactChannel.objects.create(user=bob, kind="email", target="bob.phone@acme.test")
    ContactChannel.objects.create(user=bob, kind="webhook", target="https://hooks.example.com/b", secret="s")
    incident = fire_level_one(acme, file_incident, {"roles": [], "users": ["bob", "dave"]})
    data = escalated(incident)
    rows = Notification.all_brands.filter(incident=incident, reason="escalated").order_by("pk")
    assert data["recipients"] == [
        {"username": "bob", "channel": row.channel, "notification": row.pk} for row in rows
    ]
    assert sorted(r["channel"] for r in data["recipients"]) == ["email", "webhook"]
    assert data["unreachable"] == ["dave"] and "nobody_reached" not in data
    email = rows.get(channel="email")
    assert outbox.deliver(email.pk) == "sent"
    attempt = TimelineEvent.all_brands.get(incident=incident, kind="notified")
    assert attempt.data["notification"] == email.pk


def test_when_no_manager_can_be_reached_either_it_says_so(acme, alice, bob, file_incident):
    incident = fire_level_one(acme, file_incident, {"roles": ["executive"], "users": []})
    data = escalated(incident)
    assert data["nobody_reached"]["instead"] == []
    assert data["notified"] == [] and data["recipients"] == []
    assert not Notification.all_brands.filter(incident=incident).exclude(reason="sla_warning").exists()
    # Still fired once: the escalation is recorded and the chain moves on.
    assert Escalation.all_brands.get(incident=incident).notified == []


def test_the_resolve_overdue_alert_with_no_manager_reachable(acme, alice, bob, file_incident):
    with time_machine.travel(T0, tick=False):
        incident = file_incident(severity="critical")
        services.incident_claim(incident_id=incident.pk, principal=Principal.for_user(bob))
    incident.refresh_from_db()
    with time_machine.travel(incident.resolve_due_at, tick=False):
        clock.sweep(plan_ahead=False)
    data = escalated(incident)
    assert data["reason"] == "resolve_overdue"
    assert data["nobody_reached"] == {
        "reason": "no_channel_or_email",
        "roles": ["manager"],
        "users": [],
        "unreachable": ["alice"],
    }  # no "instead": the managers are whom every level falls back on


def test_the_api_timeline_exposes_recipients_and_nobody_reached(acme, alice_mail, bob, api, file_incident):
    incident = fire_level_one(acme, file_incident, {"roles": ["executive"], "users": []})
    response = api(bob).get(f"/api/v1/incidents/{incident.pk}/timeline/")
    assert response.status_code == 200
    (event,) = [e for e in response.json()["results"] if e["kind"] == "escalated"]
    assert event["data"]["nobody_reached"]["reason"] == "no_such_member"
    assert event["data"]["nobody_reached"]["instead"] == ["alice"]
    assert [r["username"] for r in event["data"]["recipients"]] == ["alice"]
    assert "alice@acme.test" not in response.content.decode()  # who and how, not the address


def test_each_level_is_judged_on_its_own(acme, alice_mail, file_incident):
    """Level 1 reaches the managers; level 2 names executives and reaches nobody: only it falls back."""
    policies.escalation_policy_set(
        brand=acme,
        chain={
            "levels": [
                {"after_seconds": 0, "roles": ["manager"], "users": []},
                {"after_seconds": 600, "roles": ["executive"], "users": []},
            ],
            "repeat": 0,
        },
    )
    with time_machine.travel(T0, tick=False):
        incident = file_incident(severity="critical")
    with time_machine.travel(DEADLINE + timedelta(seconds=600), tick=False):
        clock.sweep(plan_ahead=False)
    first, second = (
        e.data for e in TimelineEvent.all_brands.filter(incident=incident, kind="escalated").order_by("id")
    )
    assert (first["level"], "nobody_reached" in first) == (1, False)
    assert (second["level"], second["nobody_reached"]["reason"]) == (2, "no_such_member")
