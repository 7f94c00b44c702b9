"""
The clock against real processes: a Celery worker with beat (tick = 1 s), the
project's broker (Redis in CI, the filesystem broker on the embedded default),
SLAs of 2 s. Slow by nature (a few seconds each), so kept few and decisive.
"""

import time
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from knox.models import AuthToken

from crisis.models import Membership, Role
from crisis.tenancy import Principal
from incidents import filing, policies, services, tasks
from incidents.models import Escalation, Incident, Notification, TimelineEvent
from incidents.sla import SlaTarget
from tests.conftest import make_user
from tests.live import TICK, RedisServer, free_port, purge_broker, start_web, start_worker, wait_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

ACK_SECONDS = 2


@pytest.fixture(autouse=True)
def _clean_broker():
    purge_broker()


@pytest.fixture
def desk(acme, alice, bob):
    """acme with 2-second ack SLAs and a fast two-level chain."""
    for user in (alice, bob):
        user.email = f"{user.username}@acme.test"
        user.save()
    ceo = make_user("ceo", acme, Role.VIEWER, email="ceo@acme.test")
    Membership.all_brands.filter(user=ceo).update(is_executive=True)
    policies.sla_policy_set(
        brand=acme,
        targets={sev: SlaTarget(ACK_SECONDS, 3600) for sev in ("critical", "high", "medium", "low")},
    )
    policies.escalation_policy_set(
        brand=acme,
        chain={
            "levels": [
                {"after_seconds": 0, "roles": ["manager"], "users": []},
                {"after_seconds": 2, "roles": ["executive"], "users": []},
            ],
            "repeat": 0,
        },
    )
    return acme


@pytest.fixture
def processes(tmp_path, request):
    started = []
    yield started
    for process in started:
        process.stop()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        for process in started:
            print(f"--- {process.name} log ---\n{process.tail(80)}")


def file(acme, alice, n=1, **fields):
    principal = Principal.for_user(alice)
    return [
        filing.incident_file(
            principal=principal, brand=acme, severity="critical", title=f"live {i}", **fields
        ).incident
        for i in range(n)
    ]


def lateness(incident_ids):
    rows = Escalation.all_brands.filter(incident_id__in=incident_ids, kind="ack")
    return [(r.fired_at - r.due_at).total_seconds() for r in rows]


def test_escalates_once_per_level_on_time_and_never_when_claimed(desk, alice, bob, tmp_path, processes):
    processes.append(start_worker(tmp_path))
    unclaimed, claimed = file(desk, alice, 2)
    services.incident_claim(incident_id=claimed.pk, principal=Principal.for_user(bob))

    two_levels = wait_until(
        lambda: Escalation.all_brands.filter(incident=unclaimed).count() >= 2,
        timeout=ACK_SECONDS + 2 + 2 * (TICK + 2) + 15,
    )
    assert two_levels, processes[0].tail()
    time.sleep(3 * TICK)  # a few more ticks: nothing may fire twice

    rows = list(Escalation.all_brands.filter(incident=unclaimed).order_by("level"))
    assert [(r.kind, r.level, r.notified) for r in rows] == [("ack", 1, ["alice"]), ("ack", 2, ["ceo"])]
    for row in rows:
        late = (row.fired_at - row.due_at).total_seconds()
        assert 0 <= late <= TICK + 2, (row.level, late)
    assert TimelineEvent.all_brands.filter(incident=unclaimed, kind="escalated").count() == 2
    assert Escalation.all_brands.filter(incident=claimed).count() == 0
    # The notifications went out through the outbox, and each attempt is on the timeline.
    # Delivery is at least once with retries, not on a deadline: give it time.
    assert wait_until(
        lambda: not Notification.all_brands.filter(incident=unclaimed, status="pending").exists(), timeout=45
    ), processes[0].tail()
    assert TimelineEvent.all_brands.filter(incident=unclaimed, kind="notified").exists()


def test_the_same_task_delivered_ten_times_fires_once(desk, alice, tmp_path, processes):
    policies.escalation_policy_set(
        brand=desk, chain={"levels": [{"after_seconds": 0, "roles": ["manager"], "users": []}], "repeat": 0}
    )
    (incident,) = file(desk, alice, detected_at=timezone.now() - timedelta(seconds=ACK_SECONDS))
    for _ in range(10):
        tasks.fire_due_timers.apply_async(args=(incident.pk,))
    processes.append(start_worker(tmp_path, beat=False))
    assert wait_until(lambda: Escalation.all_brands.filter(incident=incident).exists(), timeout=20), (
        processes[0].tail()
    )
    time.sleep(2)
    assert Escalation.all_brands.filter(incident=incident).count() == 1
    assert Notification.all_brands.filter(incident=incident, reason="escalated").count() == 1


@pytest.mark.redis
def test_redis_outage_loses_no_escalation(desk, alice, tmp_path, processes):
    redis = RedisServer(tmp_path)
    redis.start()
    port = free_port()
    processes.append(start_web(tmp_path, port, redis_url=redis.url))
    processes.append(start_worker(tmp_path, redis_url=redis.url))
    _row, token = AuthToken.objects.create(user=alice)
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    # One filing with Redis up first: the timing below is of the broker being away, not of
    # a fresh gunicorn's first request (lazy imports), which a busy machine can make slow.
    warm = {"brand": "acme", "title": "before the outage", "severity": "critical"}
    assert (
        session.post(f"http://127.0.0.1:{port}/api/v1/incidents/", timeout=10, json=warm).status_code == 201
    )

    redis.stop()
    ids, slowest = [], 0.0
    for i in range(20):
        started = time.monotonic()
        response = session.post(
            f"http://127.0.0.1:{port}/api/v1/incidents/",
            timeout=10,
            json={"brand": "acme", "title": f"during the outage {i}", "severity": "critical"},
        )
        slowest = max(slowest, time.monotonic() - started)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    assert slowest < 2, f"filing took {slowest:.2f} s with the broker down"
    time.sleep(ACK_SECONDS + 1)  # every deadline passes while Redis is away
    assert Escalation.all_brands.filter(incident_id__in=ids).count() == 0

    redis.start()
    restarted = time.monotonic()
    all_done = wait_until(
        lambda: Escalation.all_brands.filter(incident_id__in=ids, level=1).count() == len(ids), timeout=60
    )
    took = time.monotonic() - restarted
    redis.stop()
    assert all_done, processes[1].tail()
    print(f"\nall {len(ids)} escalated {took:.1f} s after Redis came back")
    # Exactly once each; and within two ticks of the worker being back on the broker
    # (celery's own reconnect backoff comes on top; its figure is printed above).
    assert Escalation.all_brands.filter(incident_id__in=ids, level=1).count() == len(ids)
    assert took <= 2 * TICK + 10, took


def test_kill_9_of_a_worker_mid_escalation(desk, alice, tmp_path, processes):
    incidents = file(desk, alice, 400, detected_at=timezone.now() - timedelta(seconds=ACK_SECONDS + 1))
    ids = [i.pk for i in incidents]
    level_one = Escalation.all_brands.filter(incident_id__in=ids, level=1)
    first = start_worker(tmp_path, ESCALATION_SWEEP_BATCH=20)
    processes.append(first)
    assert wait_until(level_one.exists, timeout=30, interval=0.01), first.tail()
    first.kill9()
    at_kill = level_one.count()
    second = start_worker(tmp_path)
    processes.append(second)
    assert wait_until(lambda: level_one.count() == len(ids), timeout=60), second.tail()
    print(f"\n{at_kill} of {len(ids)} had escalated when the worker was killed")
    assert at_kill < len(ids), "the kill came too late to interrupt anything"
    assert level_one.count() == len(ids)
    assert TimelineEvent.all_brands.filter(
        incident_id__in=ids, kind="escalated", data__level=1
    ).count() == len(ids)
    assert Incident.all_brands.filter(pk__in=ids, escalation_level__gte=1).count() == len(ids)
