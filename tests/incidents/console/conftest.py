"""Fixtures of the console's tests: a signed-in Django test client, and a desk of incidents for the lists."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from crisis.tenancy import Principal
from incidents import services

from .listing import NOW


@pytest.fixture
def web():
    def _login(user):
        client = Client()
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def desk(alice, bob, dave, globex, mallory, file_incident, incident_in):
    """A mix of incidents across every filter, filed at NOW and looked at 20 minutes later."""
    with time_machine.travel(NOW, tick=False):
        made = {
            "wave": file_incident(
                title="VK wave", severity="critical", category="negative_wave", channel="vk"
            ),
            "leak": file_incident(
                title="Data leak",
                description="Customer emails on a forum",
                severity="high",
                category="data_leak",
                channel="forum",
                detected_at=NOW - timedelta(hours=3),
            ),
            "fake": file_incident(
                title="Fake news", severity="low", category="fake_news", channel="telegram"
            ),
            "old": file_incident(title="Old story", severity="medium", detected_at=NOW - timedelta(days=2)),
            "done": file_incident(title="Resolved wave", severity="critical", channel="vk"),
            "globex": file_incident(brand=globex, by=mallory, title="Globex wave", severity="critical"),
        }
        incident_in(made["leak"], "acknowledged", manager=alice, responder=bob)
        incident_in(made["fake"], "investigated", manager=alice, responder=dave)
        incident_in(made["done"], "resolved", manager=alice, responder=bob)
    with time_machine.travel(NOW + timedelta(minutes=11), tick=False):
        services.incident_claim(incident_id=made["old"].pk, principal=Principal.for_user(dave))
    return made
