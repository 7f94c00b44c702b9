"""
The status-update cadence against a live worker with beat (tick = 1 s) and the project's
broker: with a 2-second cadence, a missed update reminds exactly once per beat, an update
starts the count again, and resolving stops the reminders.
"""

import itertools
import time

import pytest

from crisis.tenancy import Principal
from incidents import command, policies, services
from incidents.models import ClockHeartbeat, Incident, Notification, TimelineEvent
from tests.conftest import complete_required_steps
from tests.live import purge_broker, start_worker, wait_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

CADENCE = 2


@pytest.fixture(autouse=True)
def _clean_broker():
    purge_broker()


@pytest.fixture
def processes(tmp_path):
    started = []
    yield started
    for process in started:
        process.stop()


def reminders(incident) -> list:
    return list(
        TimelineEvent.all_brands.filter(incident=incident, kind="update_due")
        .order_by("at")
        .values_list("at", flat=True)
    )


def test_a_missed_update_reminds_once_per_beat_and_stops(
    acme, alice, bob, file_incident, tmp_path, processes
):
    bob.email = "bob@acme.test"
    bob.save()
    policies.updates_policy_set(
        brand=acme,
        cadence_seconds={"critical": CADENCE, "high": None, "medium": None, "low": None},
        stakeholder_emails=[],
    )
    processes.append(start_worker(tmp_path))
    # The worker and its beat are up (the sweeper has run) before the clock starts.
    swept = wait_until(lambda: ClockHeartbeat.objects.filter(name="sweeper").exists(), timeout=30)
    assert swept, processes[0].tail()
    incident = file_incident(severity="critical")
    services.incident_claim(incident_id=incident.pk, principal=Principal.for_user(bob))
    claimed_at = Incident.all_brands.get(pk=incident.pk).acknowledged_at

    # Beats at +2, +4, +6 s after the claim: three reminders, one each.
    assert wait_until(lambda: len(reminders(incident)) >= 3, timeout=20), processes[0].tail()
    sent = reminders(incident)
    assert len(sent) == 3, sent
    beats = [(at - claimed_at).total_seconds() for at in sent]
    for number, offset in enumerate(beats, start=1):
        assert number * CADENCE <= offset <= number * CADENCE + 1.5, beats  # on the clock: within a tick
    assert Notification.all_brands.filter(incident=incident, reason="update_due", recipient=bob).count() >= 3

    # An update: the next reminder comes a beat after it, not sooner.
    command.status_update_post(
        incident_id=incident.pk, principal=Principal.for_user(bob), body="Replies are out.", audience="team"
    )
    updated_at = Incident.all_brands.get(pk=incident.pk).last_update_at
    assert wait_until(lambda: [at for at in reminders(incident) if at > updated_at], timeout=10)
    after_update = [at for at in reminders(incident) if at > updated_at]
    assert len(after_update) == 1, after_update
    assert CADENCE <= (after_update[0] - updated_at).total_seconds() <= CADENCE + 1.5

    # Resolved: no reminder any more, over several beats.
    services.incident_investigate(incident_id=incident.pk, principal=Principal.for_user(bob))
    complete_required_steps(incident, bob)
    services.incident_resolve(incident_id=incident.pk, principal=Principal.for_user(bob), resolution="Done.")
    settled = len(reminders(incident))
    time.sleep(3 * CADENCE + 1)
    assert len(reminders(incident)) == settled
    # Once per beat: a reminder comes a beat after the one before it, sooner only by as much
    # as that one fired late (beats are anchored on the clock, not on the previous reminder).
    sent = reminders(incident)
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(sent)]
    late = [offset - number * CADENCE for number, offset in enumerate(beats, start=1)]
    assert all(gap >= CADENCE - lateness - 0.05 for gap, lateness in zip(gaps, late, strict=True)), (
        gaps,
        late,
    )
