"""
Shift hand-offs against real processes: two Celery workers, each with beat (tick 1 s), on
the project's broker. dave is on call by the rotation and is told so; an override puts bob
on call from 3 s ahead for 4 s; one worker is killed (-9) and started again in between.
bob is told exactly once when the override starts, dave exactly once more when it ends,
each no earlier than the hand-off and within a couple of ticks of it.
"""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from crisis import oncall
from crisis.tenancy import Principal
from incidents.models import ClockHeartbeat, Notification
from tests.live import TICK, purge_broker, start_worker, wait_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def workers(tmp_path):
    purge_broker()
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    started = [start_worker(tmp_path / "a"), start_worker(tmp_path / "b")]
    yield started
    for process in started:
        process.stop()


def told(username: str) -> list[Notification]:
    return list(Notification.all_brands.filter(reason="handoff", recipient__username=username).order_by("pk"))


def test_the_incoming_person_is_told_exactly_once_per_hand_off(acme, alice, bob, dave, tmp_path, workers):
    for person in (alice, bob, dave):
        person.email = f"{person.username}@acme.test"
        person.save()
    assert wait_until(lambda: ClockHeartbeat.objects.filter(name="sweeper").exists(), timeout=60), workers[
        0
    ].tail()
    nights = oncall.schedule_create(
        brand=acme,
        name="Nights",
        time_zone="Europe/Moscow",
        layers=[
            {
                "name": "Rotation",
                "users": ["dave"],
                "start": timezone.now() - timedelta(days=1),
                "shift": {"every": 1, "unit": "weeks"},
                "restrictions": [],
            }
        ],
    )
    assert wait_until(lambda: told("dave"), timeout=TICK + 20), workers[0].tail()

    start = timezone.now() + timedelta(seconds=3)
    end = start + timedelta(seconds=4)
    oncall.override_add(
        principal=Principal.for_user(alice),
        schedule=nights,
        username="bob",
        start=start,
        end=end,
        now=timezone.now(),
    )
    # One worker dies (no goodbye) and comes back while the hand-offs are due.
    workers[0].kill9()
    workers[0] = start_worker(tmp_path / "a")

    assert wait_until(lambda: told("bob"), timeout=3 + TICK + 20), workers[1].tail()
    assert wait_until(lambda: len(told("dave")) == 2, timeout=4 + TICK + 20), workers[1].tail()
    time.sleep(3 * TICK)  # every worker has swept several times since: nothing more comes
    bob_told, dave_told = told("bob"), told("dave")
    assert len(bob_told) == 1 and len(dave_told) == 2
    # Never early; late by the tick and an early sweep's publishing at most (a loaded CI box: 5 s).
    assert start <= bob_told[0].created_at <= start + timedelta(seconds=5)
    assert end <= dave_told[1].created_at <= end + timedelta(seconds=5)
    assert "Nights" in bob_told[0].subject and bob_told[0].incident is None
