"""
Faults against real processes: PostgreSQL connections killed under load, two
beats at once, and a burst from one integration key. CI runs these on
PostgreSQL and Redis; some need PostgreSQL or wrk and say so.
"""

import shutil
import subprocess
import threading
import time

import pytest
import requests
from django.db import connection
from knox.models import AuthToken

from crisis.models import BrandKey
from crisis.tenancy import Principal
from incidents import filing, policies
from incidents.models import Escalation, Incident, Notification, TimelineEvent
from incidents.sla import SlaTarget
from tests.live import (
    ROOT,
    Process,
    base_env,
    broker_env,
    free_port,
    purge_broker,
    start_web,
    start_worker,
    wait_until,
)

pytestmark = [pytest.mark.hostile, pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _clean_broker():
    purge_broker()


@pytest.fixture
def processes():
    started = []
    yield started
    for process in started:
        process.stop()


@pytest.mark.postgres
def test_killed_database_connections_give_503_or_success_never_500(acme, alice, tmp_path, processes):
    port = free_port()
    processes.append(start_web(tmp_path, port))
    _row, token = AuthToken.objects.create(user=alice)
    url = f"http://127.0.0.1:{port}/api/v1/incidents/"
    statuses, stop = [], threading.Event()

    def client(n):
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        i = 0
        while not stop.is_set():
            i += 1
            response = session.post(url, json={"brand": "acme", "title": f"load {n}-{i}"}, timeout=15)
            statuses.append(response.status_code)

    def killer():
        with connection.cursor() as cursor:
            while not stop.is_set():
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND application_name <> 'keep'"
                )
                time.sleep(0.2)

    with connection.cursor() as cursor:
        cursor.execute("SET application_name = 'keep'")
    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    threads.append(threading.Thread(target=killer))
    for t in threads:
        t.start()
    time.sleep(8)
    stop.set()
    for t in threads:
        t.join(timeout=30)

    assert statuses, processes[0].tail()
    assert set(statuses) <= {201, 503}, sorted(set(statuses))
    assert 201 in statuses
    print(f"\n{len(statuses)} requests: {statuses.count(201)} created, {statuses.count(503)} 503")
    # Every 201 was committed; a 503 may come after the commit (the connection killed
    # while the answer was read back), so some incidents may have been answered 503.
    created = Incident.all_brands.filter(brand=acme).count()
    assert statuses.count(201) <= created <= len(statuses), (created, len(statuses))
    # Nothing half-written: every incident has its "created" event.
    assert TimelineEvent.all_brands.filter(kind="created").count() == created


def test_two_beats_at_once_escalate_and_notify_once(acme, alice, bob, tmp_path, processes):
    alice.email = "alice@acme.test"
    alice.save()
    policies.sla_policy_set(
        brand=acme, targets={sev: SlaTarget(2, 3600) for sev in ("critical", "high", "medium", "low")}
    )
    policies.escalation_policy_set(
        brand=acme, chain={"levels": [{"after_seconds": 0, "roles": ["manager"], "users": []}], "repeat": 0}
    )
    ids = [
        filing.incident_file(principal=Principal.for_user(alice), brand=acme, title=f"twice {i}").incident.pk
        for i in range(30)
    ]
    # Two workers, each with its own embedded beat: two beats ticking at once.
    processes.append(start_worker(tmp_path))
    processes.append(start_worker(tmp_path))
    fired = Escalation.all_brands.filter(incident_id__in=ids)
    assert wait_until(lambda: fired.count() >= len(ids), timeout=40), processes[0].tail()
    time.sleep(4)  # several more ticks of both beats
    assert fired.count() == len(ids)
    assert Notification.all_brands.filter(incident_id__in=ids, reason="escalated").count() == len(ids)
    assert wait_until(lambda: not Notification.all_brands.filter(status="pending").exists(), timeout=20)
    assert TimelineEvent.all_brands.filter(
        kind="notified", data__reason="escalated", data__outcome="sent"
    ).count() == len(ids)


@pytest.mark.postgres
def test_a_burst_from_one_key_gets_only_2xx_and_429(acme, tmp_path, processes):
    wrk = shutil.which("wrk")
    if wrk is None:
        pytest.fail("wrk is not installed (make test installs it when run as root)")
    _key, plain = BrandKey.issue(brand=acme, name="burst")
    port = free_port()
    env = base_env(**broker_env(), API_THROTTLE_RATE="600/min", CACHE_URL="locmemcache://", CONN_MAX_AGE="60")
    web = Process(
        "web",
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            "gthread",
            "--workers",
            "1",
            "--threads",
            "8",
            "--keep-alive",
            "5",
        ],
        env,
        tmp_path,
    )
    processes.append(web)
    from tests.live import wait_for_port

    wait_for_port(port, web)
    script = tmp_path / "burst.lua"
    script.write_text(
        "local threads = {}\n"
        "function setup(thread) table.insert(threads, thread) end\n"
        "function init(args) statuses = {} end\n"
        'wrk.headers["Authorization"] = "Api-Key ' + plain + '"\n'
        "function response(status, headers, body)\n"
        "  statuses[status] = (statuses[status] or 0) + 1\n"
        "end\n"
        "function done(summary, latency, requests)\n"
        "  for _, t in ipairs(threads) do\n"
        "    for code, n in pairs(t:get('statuses')) do\n"
        "      io.write(string.format('status %d %d\\n', code, n))\n"
        "    end\n"
        "  end\n"
        "end\n"
    )
    result = subprocess.run(
        [
            wrk,
            "-t1",
            "-c16",
            "-d20s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/api/v1/incidents/?page_size=1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    print("\n" + result.stdout)
    statuses = {
        int(code): int(n)
        for code, n in (line.split()[1:] for line in result.stdout.splitlines() if line.startswith("status "))
    }
    assert sum(statuses.values()) > 1000, result.stdout + web.tail()
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.get(429, 0) > 0  # the key's budget (600/min) ran out: the rest throttled
    assert statuses.get(200, 0) <= 600 + 16
