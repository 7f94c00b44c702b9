"""
Escalation to whoever is on call, against real processes: a Celery worker with beat
(tick 1 s) on the project's broker, a 2 s acknowledge target, two levels naming the
same on-call schedule. Level 1 reaches bob, on call by the rotation; then, mid-incident,
dave takes the shift with an override, and level 2 (8 s later) reaches dave alone.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from crisis import oncall
from crisis.tenancy import Principal
from incidents import filing, policies
from incidents.models import ClockHeartbeat, Escalation, TimelineEvent
from incidents.sla import SlaTarget
from tests.live import TICK, purge_broker, start_worker, wait_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path):
    purge_broker()
    process = start_worker(tmp_path)
    yield process
    process.stop()


def test_a_level_reaches_whoever_is_on_call_when_it_fires(acme, alice, bob, dave, worker):
    for person in (alice, bob, dave):
        person.email = f"{person.username}@acme.test"
        person.save()
    now = timezone.now()
    nights = oncall.schedule_create(
        brand=acme,
        name="Nights",
        time_zone="Asia/Vladivostok",
        layers=[
            {
                "name": "Rotation",
                "users": ["bob"],
                "start": now - timedelta(days=1),
                "shift": {"every": 1, "unit": "weeks"},
                "restrictions": [],
            }
        ],
    )
    policies.sla_policy_set(brand=acme, targets={sev: SlaTarget(2, 3600) for sev in ("critical", "high")})
    level = {"roles": [], "users": [], "schedules": [nights.pk]}
    policies.escalation_policy_set(
        brand=acme,
        chain={"levels": [{"after_seconds": 0, **level}, {"after_seconds": 8, **level}], "repeat": 0},
    )
    # A worker still booting when both levels are due would fire them in one sweep.
    assert wait_until(lambda: ClockHeartbeat.objects.filter(name="sweeper").exists(), timeout=60), (
        worker.tail()
    )
    incident = filing.incident_file(
        principal=Principal.for_user(alice), brand=acme, severity="critical", title="live, on call"
    ).incident

    def fired(level: int):
        return Escalation.all_brands.filter(incident=incident, level=level).first()

    first = wait_until(lambda: fired(1), timeout=2 + TICK + 20)
    assert first is not None, worker.tail()
    assert first.notified == ["bob"]
    assert fired(2) is None, "level 2 fired before the override could be added"

    # Mid-incident, dave takes the shift from now on.
    oncall.override_add(
        principal=Principal.for_user(dave),
        schedule=nights,
        username="dave",
        start=timezone.now(),
        end=timezone.now() + timedelta(hours=1),
        now=timezone.now(),
    )
    second = wait_until(lambda: fired(2), timeout=8 + TICK + 20)
    assert second is not None, worker.tail()
    assert second.notified == ["dave"]
    assert second.fired_at - incident.ack_due_at >= timedelta(seconds=8)  # never early

    events = TimelineEvent.all_brands.filter(incident=incident, kind="escalated").order_by("id")
    assert [e.data["on_call"] for e in events] == [
        [{"schedule": nights.pk, "name": "Nights", "users": ["bob"]}],
        [{"schedule": nights.pk, "name": "Nights", "users": ["dave"]}],
    ]
    assert all("nobody_reached" not in e.data for e in events)
    assert Escalation.all_brands.filter(incident=incident).count() == 2  # each level once
