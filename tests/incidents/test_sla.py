"""Deadline maths: pure functions, tested with fixed times."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents import sla

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "severity,ack,resolve",
    [
        ("critical", 600, 14400),
        ("high", 900, 43200),
        ("medium", 3600, 86400),
        ("low", 14400, 259200),
    ],
)
def test_defaults_match_the_design(severity, ack, resolve):
    assert sla.DEFAULT_TARGETS[severity] == sla.SlaTarget(ack, resolve)


def test_due_at_counts_from_the_start():
    assert sla.due_at(T0, 600) == T0 + timedelta(minutes=10)


@pytest.mark.parametrize(
    "done,now,breached",
    [
        (None, T0 - timedelta(seconds=1), False),  # still time
        (None, T0, False),  # exactly at the deadline: not yet missed
        (None, T0 + timedelta(seconds=1), True),  # missed, still open
        (T0 - timedelta(minutes=1), T0 + timedelta(hours=1), False),  # done in time stays met
        (T0, T0 + timedelta(hours=1), False),  # done at the deadline is in time
        (T0 + timedelta(seconds=1), T0 + timedelta(hours=1), True),  # done late stays breached
    ],
)
def test_is_breached(done, now, breached):
    assert sla.is_breached(due=T0, done=done, now=now) is breached


def test_no_deadline_is_never_breached():
    assert sla.is_breached(due=None, done=None, now=T0) is False


def test_incident_breach_flags_follow_the_clock(file_incident):
    with time_machine.travel(T0, tick=False):
        incident = file_incident(severity="critical", detected_at=T0 - timedelta(minutes=9))
        assert incident.ack_breached is False
    with time_machine.travel(T0 + timedelta(minutes=1, seconds=1), tick=False):
        assert incident.ack_breached is True
        assert incident.resolve_breached is False
    with time_machine.travel(T0 + timedelta(hours=4), tick=False):
        assert incident.resolve_breached is True


def test_detected_at_slightly_ahead_is_taken_as_now(api, bob):
    with time_machine.travel(T0, tick=False):
        response = api(bob).post(
            "/api/v1/incidents/",
            {"brand": "acme", "title": "t", "detected_at": (T0 + timedelta(seconds=10)).isoformat()},
            format="json",
        )
        too_far = api(bob).post(
            "/api/v1/incidents/",
            {"brand": "acme", "title": "t", "detected_at": (T0 + timedelta(seconds=31)).isoformat()},
            format="json",
        )
    assert response.status_code == 201
    assert response.data["detected_at"] == "2026-11-21T12:00:00Z"
    assert too_far.status_code == 400
    assert "detected_at" in too_far.data
