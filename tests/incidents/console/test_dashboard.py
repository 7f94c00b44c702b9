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


def page_text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def acknowledged_after(file_incident, incident_in, alice, bob, *, detected, seconds, **fields):
    incident = file_incident(detected_at=detected, **fields)
    with time_machine.travel(detected + timedelta(seconds=seconds), tick=False):
        incident_in(incident, "acknowledged", manager=alice, responder=bob)
    return incident


def test_the_chart_has_axes_and_a_labelled_value_per_day(alice, bob, file_incident, incident_in):
    now = timezone.now()
    for days_ago, seconds in ((2, 252), (1, 75), (1, 605)):
        acknowledged_after(
            file_incident, incident_in, alice, bob, detected=now - timedelta(days=days_ago), seconds=seconds
        )
    client = Client()
    client.force_login(alice)
    html = client.get("/brands/acme/dashboard/").content.decode()
    chart = re.search(r'<svg class="chart duration-bars".*?</svg>', html, re.S)[0]
    values = re.findall(r'class="value value-p50"[^>]*>([^<]+)<', chart)
    assert values == ["4 min 12 s", "5 min 40 s"]  # one day's median of 75 s and 605 s is 340 s
    assert len(re.findall(r'class="tick"[^>]*>[^<]*(?:min|s)<', chart)) >= 3  # the duration axis
    assert len(re.findall(r'class="tick day"', chart)) == 2  # one row per day, dated
    assert 'style="' not in html  # the Content-Security-Policy allows no inline style


def test_the_period_is_chosen_and_bad_periods_are_a_400(alice, bob, file_incident, incident_in):
    now = timezone.now()
    acknowledged_after(file_incident, incident_in, alice, bob, detected=now - timedelta(days=40), seconds=30)
    acknowledged_after(file_incident, incident_in, alice, bob, detected=now - timedelta(days=1), seconds=30)
    client = Client()
    client.force_login(alice)
    assert "Incidents 1 " in page_text(client.get("/brands/acme/dashboard/").content.decode())
    today = timezone.localdate()
    wide = f"?since={(today - timedelta(days=89)).isoformat()}&until={today.isoformat()}"
    assert "Incidents 2 " in page_text(client.get(f"/brands/acme/dashboard/{wide}").content.decode())
    for bad in (
        "?since=2026-13-01",
        "?since=2026-05-02&until=2026-05-01",
        "?since=1999-01-01&until=1999-01-02",
        "?since=2020-01-01&until=2026-01-01",
    ):
        answer = client.get(f"/brands/acme/dashboard/{bad}")
        assert answer.status_code == 400, bad
        assert 'class="errorlist' in answer.content.decode()


def test_the_brand_picker_keeps_the_period(alice, globex, mallory):
    from crisis.models import Membership, Role

    Membership.objects.create(brand=globex, user=alice, role=Role.MANAGER)
    client = Client()
    client.force_login(alice)
    answer = client.get("/dashboard/?brand=globex&since=2026-11-01&until=2026-11-07")
    assert answer.status_code == 302
    assert answer["Location"] == "/brands/globex/dashboard/?since=2026-11-01&until=2026-11-07"
    page = client.get("/brands/acme/dashboard/").content.decode()
    assert '<option value="globex"' in page and '<option value="acme" selected' in page


def test_another_brands_dashboard_is_a_404(mallory, acme):
    client = Client()
    client.force_login(mallory)
    assert client.get("/brands/acme/dashboard/").status_code == 404
    assert client.get("/dashboard/?brand=acme").status_code == 302  # then the 404 above


def test_ratios_per_severity_and_responder_match_the_report_api(
    alice, bob, dave, file_incident, incident_in, api
):
    now = timezone.now()
    acknowledged_after(
        file_incident,
        incident_in,
        alice,
        bob,
        detected=now - timedelta(hours=5),
        seconds=60,
        severity="critical",
    )
    acknowledged_after(
        file_incident,
        incident_in,
        alice,
        dave,
        detected=now - timedelta(hours=4),
        seconds=9000,
        severity="critical",
    )
    acknowledged_after(
        file_incident, incident_in, alice, bob, detected=now - timedelta(hours=3), seconds=60, severity="low"
    )
    client = Client()
    client.force_login(alice)
    html = client.get("/brands/acme/dashboard/").content.decode()
    query = unescape(re.search(r'data-api-query="([^"]+)"', html)[1])
    for group_by, section in (("severity", "by-severity"), ("assignee", "by-responder")):
        report = api(alice).get(f"/api/v1/reports/response-times/?{query}&group_by={group_by}").data
        shown = dict(
            re.findall(
                r'data-key="([^"]*)" data-ratio="([^"]+)"',
                html.split(f'id="{section}"')[1].split("</section>")[0],
            )
        )
        assert shown == {g["key"]: str(g["ack_sla_met_ratio"]) for g in report["groups"]}
    assert shown == {"bob": "1.0", "dave": "0.0"}
