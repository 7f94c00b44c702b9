"""
A statement's approval hops on the clock (frozen time): a hop past its time escalates to the
brand's managers once per version and hop, through the same sweeper, outbox and timeline as
incident escalation; a decision in time escalates nothing.
"""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crisis.tenancy import Principal
from incidents import clock, statements
from incidents.models import Notification, Statement, StatementDecision, TimelineEvent
from tests.conftest import statement_written

ROUTE = [
    {"name": "PR head", "users": ["erin"], "within_seconds": 900},
    {"name": "Legal", "users": ["alice"], "within_seconds": 1800},
]


@pytest.fixture
def submitted(acme, alice, bob, erin, file_incident):
    alice.email = "alice@acme.example"
    alice.save()
    statements.statement_route_set(brand=acme, hops=ROUTE)
    incident = file_incident(severity="low")
    statement = statement_written(incident, bob, submit=True)
    return Statement.all_brands.get(pk=statement.pk)


def overdue_events(incident):
    return list(
        TimelineEvent.all_brands.filter(incident=incident, kind="escalated", data__reason="statement_overdue")
    )


def test_a_hop_past_its_time_escalates_to_the_managers_once(submitted, alice, erin):
    started = submitted.hop_started_at
    assert submitted.hop_due_at == started + timedelta(seconds=900)
    with time_machine.travel(started + timedelta(seconds=899), tick=False):
        clock.sweep(plan_ahead=False)
    assert overdue_events(submitted.incident) == []
    for seconds in (900, 901, 1200, 5000):
        with time_machine.travel(started + timedelta(seconds=seconds), tick=False):
            clock.sweep(plan_ahead=False)
    [event] = overdue_events(submitted.incident)
    assert (event.data["hop"], event.data["hop_name"], event.data["version"]) == (1, "PR head", 1)
    assert sorted(event.data["notified"]) == ["alice", "erin"]
    assert event.at == started + timedelta(seconds=900)
    sent = Notification.all_brands.filter(incident=submitted.incident, reason="escalated")
    assert sorted(n.recipient.username for n in sent) == ["alice", "erin"]
    assert "stuck in approval (PR head)" in sent[0].subject
    decision = StatementDecision.all_brands.get(statement=submitted, kind="escalated")
    assert (decision.hop, decision.version) == (0, 1)
    submitted.refresh_from_db()
    assert submitted.hop_due_at is None and submitted.state == "in_approval"  # still waiting for erin


def test_approval_in_time_escalates_nothing_and_the_next_hop_has_its_own_clock(submitted, erin, alice):
    started = submitted.hop_started_at
    with time_machine.travel(started + timedelta(seconds=600), tick=False):
        statements.statement_decide(
            incident_id=submitted.incident_id,
            statement_id=submitted.pk,
            principal=Principal.for_user(erin),
            approve=True,
        )
        submitted.refresh_from_db()
        assert submitted.hop == 1 and submitted.hop_due_at == timezone.now() + timedelta(seconds=1800)
    # Past hop 1's old deadline, within hop 2's: nothing.
    with time_machine.travel(started + timedelta(seconds=2000), tick=False):
        clock.sweep(plan_ahead=False)
    assert overdue_events(submitted.incident) == []
    # Hop 2 (legal) runs out at 600 + 1800 s.
    with time_machine.travel(started + timedelta(seconds=2400), tick=False):
        clock.sweep(plan_ahead=False)
    [event] = overdue_events(submitted.incident)
    assert (event.data["hop"], event.data["hop_name"]) == (2, "Legal")


def test_an_edit_restarts_the_clock_and_a_new_version_may_escalate_again(submitted, bob):
    started = submitted.hop_started_at
    with time_machine.travel(started + timedelta(seconds=1000), tick=False):
        clock.sweep(plan_ahead=False)
    assert len(overdue_events(submitted.incident)) == 1
    with time_machine.travel(started + timedelta(seconds=1100), tick=False):
        statements.statement_edit(
            incident_id=submitted.incident_id,
            statement_id=submitted.pk,
            principal=Principal.for_user(bob),
            channels=["vk"],
            body="Sorry, and here is our plan.",
        )
    with time_machine.travel(started + timedelta(seconds=1100 + 899), tick=False):
        clock.sweep(plan_ahead=False)
    assert len(overdue_events(submitted.incident)) == 1
    with time_machine.travel(started + timedelta(seconds=1100 + 900), tick=False):
        clock.sweep(plan_ahead=False)
    events = overdue_events(submitted.incident)
    assert [e.data["version"] for e in events] == [1, 2]


def test_rejected_and_resubmitted_unchanged_does_not_escalate_the_same_version_twice(submitted, bob, erin):
    started = submitted.hop_started_at
    with time_machine.travel(started + timedelta(seconds=1000), tick=False):
        clock.sweep(plan_ahead=False)
        statements.statement_decide(
            incident_id=submitted.incident_id,
            statement_id=submitted.pk,
            principal=Principal.for_user(erin),
            approve=False,
            comment="No.",
        )
        statements.statement_submit(
            incident_id=submitted.incident_id, statement_id=submitted.pk, principal=Principal.for_user(bob)
        )
    submitted.refresh_from_db()
    assert submitted.hop_due_at is None  # hop 1 of version 1 has escalated already
    with time_machine.travel(started + timedelta(seconds=5000), tick=False):
        clock.sweep(plan_ahead=False)
    assert len(overdue_events(submitted.incident)) == 1


def test_two_sweepers_racing_escalate_once(submitted):
    due = submitted.hop_due_at
    rows = list(Statement.all_brands.select_related("incident__brand").filter(pk=submitted.pk))
    other = list(Statement.all_brands.select_related("incident__brand").filter(pk=submitted.pk))
    with time_machine.travel(due, tick=False):
        assert clock.fire_statement_hops(rows, now=due) == 1
        # A second sweeper that read the row before the first committed finds nothing to move.
        assert clock.fire_statement_hops(other, now=due) == 0
    assert len(overdue_events(submitted.incident)) == 1


@pytest.mark.postgres
def test_claiming_due_hops_is_an_index_scan(submitted):
    with CaptureQueriesContext(connection) as queries:
        clock.sweep(plan_ahead=False)
    claim = next(
        q["sql"]
        for q in queries.captured_queries
        if '"hop_due_at" <=' in q["sql"] and "FOR UPDATE" in q["sql"]
    )
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # tiny tables: ask which index the planner can use
        cursor.execute("EXPLAIN " + claim.split(" FOR UPDATE")[0])
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    assert "statement_hop_due" in plan, plan
