"""
A statement's approval hop against a live worker with beat (tick = 1 s) and the project's
broker: a hop with a 2-second limit escalates to the managers exactly once; a hop approved
before its limit escalates nothing.
"""

import time

import pytest

from crisis.models import Role
from crisis.tenancy import Principal
from incidents import statements
from incidents.models import ClockHeartbeat, Notification, Statement, StatementDecision, TimelineEvent
from tests.conftest import make_user
from tests.live import purge_broker, start_worker, wait_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

LIMIT = 2


@pytest.fixture(autouse=True)
def _clean_broker():
    purge_broker()


@pytest.fixture
def worker(tmp_path):
    process = start_worker(tmp_path)
    # The worker and its beat are up (the sweeper has run) before any hop's clock starts.
    assert wait_until(lambda: ClockHeartbeat.objects.filter(name="sweeper").exists(), timeout=30), (
        process.tail()
    )
    yield process
    process.stop()


def overdue(incident) -> list:
    return list(
        TimelineEvent.all_brands.filter(incident=incident, kind="escalated", data__reason="statement_overdue")
    )


def submit(acme, bob, file_incident) -> Statement:
    statements.statement_route_set(
        brand=acme, hops=[{"name": "PR head", "users": ["erin"], "within_seconds": LIMIT}]
    )
    incident = file_incident(severity="low")  # low: no ack escalation within the test
    statement = statements.statement_create(
        incident_id=incident.pk,
        principal=Principal.for_user(bob),
        channels=["vk"],
        language="en",
        body="Sorry.",
    )
    statements.statement_submit(
        incident_id=incident.pk, statement_id=statement.pk, principal=Principal.for_user(bob)
    )
    return Statement.all_brands.select_related("incident").get(pk=statement.pk)


def test_a_two_second_hop_escalates_exactly_once(acme, alice, bob, file_incident, worker):
    alice.email = "alice@acme.example"
    alice.save()
    make_user("erin", acme, Role.RESPONDER, email="erin@acme.example")
    statement = submit(acme, bob, file_incident)
    assert wait_until(lambda: overdue(statement.incident), timeout=15), worker.tail()
    [event] = overdue(statement.incident)
    late = (event.at - statement.hop_due_at).total_seconds()
    assert 0 <= late <= 1.5, late  # on the clock: at the limit, within a tick
    assert event.data["notified"] == ["alice"]
    time.sleep(4 * LIMIT)  # several more ticks and early sweeps: nothing more
    assert len(overdue(statement.incident)) == 1
    assert StatementDecision.all_brands.filter(statement=statement, kind="escalated").count() == 1
    assert Notification.all_brands.filter(incident=statement.incident, reason="escalated").count() == 1


def test_approval_before_the_limit_escalates_nothing(acme, alice, bob, file_incident, worker):
    erin = make_user("erin", acme, Role.RESPONDER, email="erin@acme.example")
    statement = submit(acme, bob, file_incident)
    statements.statement_decide(
        incident_id=statement.incident_id,
        statement_id=statement.pk,
        principal=Principal.for_user(erin),
        approve=True,
    )
    time.sleep(3 * LIMIT)
    assert overdue(statement.incident) == []
    assert not StatementDecision.all_brands.filter(statement=statement, kind="escalated").exists()
