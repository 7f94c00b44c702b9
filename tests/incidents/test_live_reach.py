"""
The nobody-reached rule against real processes: a Celery worker with beat (tick 1 s) on
the project's broker (Redis in CI, the filesystem broker on the embedded default), a 2 s
SLA, a level that names executives in a brand that has none. The managers hear of it
instead, once, and the e-mail lands where the embedded default writes mail (VAR_DIR/mail/).
"""

import os
import time

import pytest
from django.conf import settings

from crisis.tenancy import Principal
from incidents import filing, policies
from incidents.models import Escalation, Notification, TimelineEvent
from incidents.sla import SlaTarget
from tests.live import TICK, purge_broker, start_worker, wait_until

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path):
    purge_broker()
    process = start_worker(tmp_path)
    yield process
    process.stop()


@pytest.mark.skipif("EMAIL_URL" in os.environ, reason="EMAIL_URL sends mail elsewhere")
def test_a_level_with_no_executive_reaches_the_managers_through_a_live_worker(acme, alice, bob, worker):
    alice.email = f"alice-{time.time_ns()}@acme.test"  # unique: the mail folder outlives tests
    alice.save()
    policies.sla_policy_set(brand=acme, targets={sev: SlaTarget(2, 3600) for sev in ("critical", "high")})
    policies.escalation_policy_set(
        brand=acme,
        chain={"levels": [{"after_seconds": 0, "roles": ["executive"], "users": []}], "repeat": 0},
    )
    incident = filing.incident_file(
        principal=Principal.for_user(alice), brand=acme, severity="critical", title="live, nobody"
    ).incident

    assert wait_until(
        lambda: Escalation.all_brands.filter(incident=incident).exists(), timeout=2 + TICK + 20
    ), worker.tail()
    assert wait_until(
        lambda: Notification.all_brands.filter(incident=incident, reason="escalated", status="sent").exists(),
        timeout=45,
    ), worker.tail()
    time.sleep(2 * TICK)  # a few more ticks: nothing fires twice

    (fired,) = Escalation.all_brands.filter(incident=incident)
    assert fired.notified == ["alice"]
    event = TimelineEvent.all_brands.get(incident=incident, kind="escalated")
    assert event.data["nobody_reached"]["reason"] == "no_such_member"
    assert event.data["nobody_reached"]["instead"] == ["alice"]
    mail_folder = settings.VAR_DIR / "mail"
    assert any(alice.email in path.read_text(errors="replace") for path in mail_folder.glob("*.log"))
