"""The dashboard's figures read as durations people say ("1 min 17 s"), not raw seconds."""

import re
from datetime import timedelta
from html import unescape

import time_machine
from django.test import Client
from django.utils import timezone

from incidents.models import Incident


def test_the_dashboard_says_durations_and_names_severities(alice, bob, file_incident, incident_in):
    detected = timezone.now() - timedelta(hours=2)
    incident = file_incident(severity="critical", detected_at=detected)
    with time_machine.travel(detected + timedelta(seconds=77.016), tick=False):
        incident_in(incident, "acknowledged", manager=alice, responder=bob)
    assert round(Incident.all_brands.get(pk=incident.pk).ack_seconds) == 77
    client = Client()
    client.force_login(alice)
    page = client.get("/brands/acme/dashboard/").content.decode()
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", page)).split())
    assert "Mean time to acknowledge 1 min 17 s" in text
    assert "Median / 90th percentile 1 min 17 s / 1 min 17 s" in text
    assert "Critical" in text and ">critical<" not in page
    assert "77.0" not in page  # the raw seconds the page used to show
