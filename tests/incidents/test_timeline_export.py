"""The period's timeline export gives each event's time in the zone asked for (`tz`), with its offset."""

import csv
import io
import json
from datetime import datetime

import pytest

pytestmark = pytest.mark.django_db

PERIOD = {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_event_times_are_given_in_the_zone_asked_for(fmt, api, alice, file_incident):
    incident = file_incident()
    times = {}
    for tz, offset in (("UTC", "+00:00"), ("Asia/Kathmandu", "+05:45"), (None, "+00:00")):
        params = {**PERIOD, "format": fmt, **({"tz": tz} if tz else {})}
        response = api(alice).get("/api/v1/reports/timeline/", params)
        assert response.status_code == 200
        body = b"".join(response.streaming_content).decode()
        [row] = list(csv.DictReader(io.StringIO(body))) if fmt == "csv" else json.loads(body)
        assert row["incident"] in (incident.pk, str(incident.pk)) and row["at"].endswith(offset), row["at"]
        times[tz] = datetime.fromisoformat(row["at"])
    assert len(set(times.values())) == 1  # one instant, read on different clocks


def test_an_unknown_zone_is_a_400(api, alice):
    response = api(alice).get("/api/v1/reports/timeline/", {**PERIOD, "tz": "Mars/Olympus"})
    assert response.status_code == 400 and "tz" in response.json()
