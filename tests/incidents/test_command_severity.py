"""
Severity changes re-time the clock (API.md, "Incident command"): table-driven from every
state, up and down, with the deadlines before and after, in frozen time; a deadline the
change puts in the past escalates at once, exactly once, also against concurrent sweeps
on PostgreSQL; lowering never un-escalates history.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from crisis.tenancy import Principal
from incidents import clock, command, policies
from incidents.models import Escalation, Incident, TimelineEvent
from tests.conftest import all_at_once

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MIN, HOUR = timedelta(minutes=1), timedelta(hours=1)


@pytest.fixture
def team(acme, alice, bob, dave):
    for user in (alice, bob, dave):
        user.email = f"{user.username}@acme.test"
        user.save()
    return acme


def at(moment, call, *args, **kwargs):
    with time_machine.travel(moment, tick=False):
        return call(*args, **kwargs)


def change(incident, user, severity, when, reason="The wave reached the national media."):
    return at(
        when,
        command.incident_severity_change,
        incident_id=incident.pk,
        principal=Principal.for_user(user),
        severity=severity,
        reason=reason,
    )


def fresh(incident):
    return Incident.all_brands.get(pk=incident.pk)


# Brand defaults (sla.DEFAULT_TARGETS): medium ack 1 h / resolve 24 h; critical 10 min / 4 h;
# low 4 h / 72 h. Detected at T0, claimed at T0 + 1 min, changed at T0 + 3 min.
# Updates (sla.DEFAULT_UPDATE_CADENCE): critical every 30 min, none for medium and low.
CASES = [
    # state, to, ack after, resolve after, next escalation after, update due after
    ("detected", "critical", T0 + 10 * MIN, T0 + 4 * HOUR, T0 + 10 * MIN, None),
    ("detected", "low", T0 + 4 * HOUR, T0 + 72 * HOUR, T0 + 4 * HOUR, None),
    ("acknowledged", "critical", T0 + HOUR, T0 + 4 * HOUR, None, T0 + 31 * MIN),
    ("acknowledged", "low", T0 + HOUR, T0 + 72 * HOUR, None, None),
    ("investigated", "critical", T0 + HOUR, T0 + 4 * HOUR, None, T0 + 31 * MIN),
    ("investigated", "low", T0 + HOUR, T0 + 72 * HOUR, None, None),
]


@pytest.mark.parametrize("state,to,ack,resolve,escalation,update_due", CASES)
def test_severity_up_and_down_from_each_open_state(
    team, alice, bob, file_incident, incident_in, state, to, ack, resolve, escalation, update_due
):
    incident = at(T0, file_incident, severity="medium")
    assert (incident.ack_due_at, incident.resolve_due_at) == (T0 + HOUR, T0 + 24 * HOUR)
    if state != "detected":
        at(T0 + MIN, incident_in, incident, state, manager=alice, responder=bob)
    changed = change(incident, alice, to, T0 + 3 * MIN)

    row = fresh(incident)
    assert (changed.severity, row.severity, row.state) == (to, to, state)
    assert (row.ack_due_at, row.resolve_due_at) == (ack, resolve)
    assert row.next_escalation_at == escalation
    assert row.update_due_at == update_due
    if state == "detected":
        # The warning follows the new deadline: 80 % of the new window.
        assert row.sla_warning_at == T0 + (ack - T0) * 0.8
        assert row.resolve_escalation_at is None
    else:
        assert row.sla_warning_at is None
        assert row.resolve_escalation_at == resolve  # the resolve alert follows too
    assert row.escalation_level == 0 and not Escalation.all_brands.filter(incident=incident).exists()
    (event,) = TimelineEvent.all_brands.filter(incident=incident, kind="severity_changed")
    assert event.actor_label == "alice"
    assert event.data["from"] == "medium" and event.data["to"] == to
    assert event.data["reason"] == "The wave reached the national media."
    assert event.data["ack_due_at"] == [(T0 + HOUR).isoformat(), ack.isoformat()]
    assert event.data["resolve_due_at"] == [(T0 + 24 * HOUR).isoformat(), resolve.isoformat()]


@pytest.mark.parametrize("state", ["resolved", "reviewed"])
def test_a_closed_incident_keeps_its_severity(team, alice, bob, file_incident, incident_in, api, state):
    incident = incident_in(file_incident(), state, manager=alice, responder=bob)
    response = api(alice).post(
        f"/api/v1/incidents/{incident.pk}/severity/",
        {"severity": "critical", "reason": "late"},
        format="json",
    )
    assert response.status_code == 409, response.data
    assert response.data["code"] == "invalid_transition"
    assert fresh(incident).severity == "medium"


def test_the_same_severity_again_changes_nothing(team, alice, file_incident):
    incident = at(T0, file_incident, severity="high")
    change(incident, alice, "high", T0 + MIN)
    assert not TimelineEvent.all_brands.filter(incident=incident, kind="severity_changed").exists()


def test_a_passed_deadline_never_moves_later_and_lowering_never_un_escalates(team, alice, file_incident):
    """Medium, unclaimed past its 1 h deadline: level 1 fired. Lowering to low keeps it all."""
    incident = at(T0, file_incident, severity="medium")
    at(T0 + HOUR + MIN, clock.sweep)
    escalated = fresh(incident)
    assert escalated.escalation_level == 1
    assert escalated.next_escalation_at == T0 + HOUR + 10 * MIN  # level 2 (executives) at +600 s

    change(incident, alice, "low", T0 + HOUR + 2 * MIN)
    lowered = fresh(incident)
    assert lowered.ack_due_at == T0 + HOUR  # not T0 + 4 h: the breach stands
    assert lowered.resolve_due_at == T0 + 72 * HOUR  # not passed: re-timed
    assert lowered.escalation_level == 1
    assert lowered.next_escalation_at == T0 + HOUR + 10 * MIN  # the running chain keeps its clock
    assert at(T0 + HOUR + 2 * MIN, lambda: lowered.ack_breached)
    assert list(Escalation.all_brands.filter(incident=incident).values_list("level", flat=True)) == [1]

    # Raising again moves nothing that has passed and fires nothing twice.
    change(incident, alice, "critical", T0 + HOUR + 3 * MIN)
    raised = fresh(incident)
    assert (raised.ack_due_at, raised.escalation_level) == (T0 + HOUR, 1)
    assert raised.resolve_due_at == T0 + 4 * HOUR
    assert Escalation.all_brands.filter(incident=incident).count() == 1


def test_raising_past_the_new_deadline_escalates_at_once_exactly_once(team, alice, file_incident):
    """Medium detected at T0, raised to critical at T0 + 15 min: the 10-min deadline has passed."""
    incident = at(T0, file_incident, severity="medium")
    change(incident, alice, "critical", T0 + 15 * MIN)

    row = fresh(incident)
    assert row.ack_due_at == T0 + 10 * MIN
    assert row.escalation_level == 1  # fired in the change's own transaction
    assert row.next_escalation_at == T0 + 20 * MIN  # level 2 follows the new deadline
    assert row.sla_warning_at is None
    (level,) = Escalation.all_brands.filter(incident=incident)
    assert (level.level, level.due_at, level.fired_at) == (1, T0 + 10 * MIN, T0 + 15 * MIN)
    assert level.notified == ["alice"]

    # The sweeper after it finds nothing more to fire until level 2 is due.
    at(T0 + 15 * MIN + timedelta(seconds=1), clock.sweep)
    assert Escalation.all_brands.filter(incident=incident).count() == 1
    at(T0 + 20 * MIN, clock.sweep)
    assert list(Escalation.all_brands.filter(incident=incident).values_list("level", flat=True)) == [1, 2]
    kinds = list(
        TimelineEvent.all_brands.filter(incident=incident)
        .exclude(kind="step_overdue")  # the playbook's own reminders
        .values_list("kind", flat=True)
    )
    assert kinds == ["created", "severity_changed", "escalated", "escalated"]


@pytest.mark.parametrize(
    "who,expected",
    [("alice", 200), ("bob_assignee", 200), ("dave", 403), ("carol", 403), ("mallory", 404)],
)
def test_who_may_change_the_severity(
    team, alice, bob, carol, dave, mallory, file_incident, incident_in, api, who, expected
):
    incident = incident_in(file_incident(), "acknowledged", manager=alice, responder=bob)
    user = {"alice": alice, "bob_assignee": bob, "dave": dave, "carol": carol, "mallory": mallory}[who]
    response = api(user).post(
        f"/api/v1/incidents/{incident.pk}/severity/",
        {"severity": "high", "reason": "Journalists are asking"},
        format="json",
    )
    assert response.status_code == expected, response.data
    assert fresh(incident).severity == ("high" if expected == 200 else "medium")
    if expected == 200:
        assert response.data["severity"] == "high"


@pytest.mark.parametrize(
    "body,field",
    [
        ({"severity": "apocalyptic", "reason": "x"}, "severity"),
        ({"severity": "high"}, "reason"),
        ({"severity": "high", "reason": "   "}, "reason"),
        ({"severity": "high", "reason": "x", "escalation_level": 0}, "escalation_level"),
    ],
)
def test_bad_severity_input_is_a_400_naming_the_field(team, alice, file_incident, api, body, field):
    incident = file_incident()
    response = api(alice).post(f"/api/v1/incidents/{incident.pk}/severity/", body, format="json")
    assert response.status_code == 400, response.data
    assert field in response.data
    assert fresh(incident).severity == "medium"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_raise_racing_with_sweeps_escalates_exactly_once(acme, alice, bob, dave, file_incident):
    """
    Each round: a medium incident detected 50 minutes ago (its 1 h deadline ahead, its SLA
    warning at 48 min due, so the sweeps want the row too) is raised to critical (10 min:
    passed) while three sweeps run, all released at once. Whichever locks the row first,
    level 1 fires once: the change fires it under its row lock, and a sweep either skips the
    locked row, or fires the warning first and the change then re-reads the row it waited for.
    """
    policies.escalation_policy_set(
        brand=acme,
        chain={
            "levels": [
                {"after_seconds": 0, "roles": ["manager"], "users": []},
                {"after_seconds": 3600, "roles": ["manager"], "users": []},
            ],
            "repeat": 0,
        },
    )
    for round_ in range(6):
        incident = file_incident(
            severity="medium", detected_at=timezone.now() - 50 * MIN, title=f"round {round_}"
        )

        def work(who, incident_id=incident.pk):
            if who == "raise":
                return command.incident_severity_change(
                    incident_id=incident_id,
                    principal=Principal.for_user(alice),
                    severity="critical",
                    reason="A national TV channel picked it up",
                )
            return clock.sweep(plan_ahead=False)

        all_at_once(work, ["raise", "sweep", "sweep", "sweep"])
        row = fresh(incident)
        assert (row.severity, row.escalation_level) == ("critical", 1), round_
        assert list(Escalation.all_brands.filter(incident=incident).values_list("level", flat=True)) == [1]
        assert TimelineEvent.all_brands.filter(incident=incident, kind="escalated").count() == 1
        assert TimelineEvent.all_brands.filter(incident=incident, kind="sla_warning").count() <= 1
