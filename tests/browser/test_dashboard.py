"""
The dashboard in Chromium: the chart of time to acknowledge by day has a duration axis,
dated rows and a written value per bar; its SLA ratios per severity and per responder
are the report API's for the same period; in Russian; on a 390 px phone without
sideways scroll (`dashboard-*.png` under VAR_DIR/screenshots).
"""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.conftest import drive_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# (days ago, severity, responder, seconds to acknowledge)
INCIDENTS = [
    (6, "critical", "bob", 252),
    (6, "high", "dave", 1400),
    (5, "critical", "bob", 75),
    (4, "medium", "dave", 3000),
    (4, "critical", "dave", 900),
    (3, "high", "bob", 130),
    (2, "low", "bob", 7200),
    (1, "critical", "dave", 45),
    (1, "high", "bob", 610),
]


@pytest.fixture
def month(alice, bob, dave, file_incident):
    people = {"bob": bob, "dave": dave}
    now = timezone.now()
    for days_ago, severity, who, seconds in INCIDENTS:
        detected = now - timedelta(days=days_ago, hours=2)
        incident = file_incident(severity=severity, detected_at=detected, title=f"{severity} {days_ago}")
        with time_machine.travel(detected + timedelta(seconds=seconds), tick=False):
            drive_to(incident, "acknowledged", manager=alice, responder=people[who])


def no_sideways_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def ratios_on_page(page, section):
    return {
        bar.get_attribute("data-key"): float(bar.get_attribute("data-ratio"))
        for bar in page.locator(f"#{section} svg rect.met").all()
    }


def test_the_dashboard_chart_and_its_ratios(page_for, live_server, alice, month, shots):
    page = page_for(alice)
    page.goto(f"{live_server.url}/brands/acme/dashboard/")
    chart = page.locator("#ack-by-day svg.duration-bars")
    assert chart.is_visible()
    days = chart.locator("text.day").all_text_contents()
    assert len(days) == 6  # six days with incidents, each row dated
    values = chart.locator("text.value-p50").all_text_contents()
    assert len(values) == 6 and all(v.endswith((" s", " min", " h")) for v in values), values
    assert "1 min 15 s" in chart.locator("text.value").all_text_contents()  # a lone day's median and p90
    axis = [t for t in chart.locator("text.tick").all_text_contents() if t not in days]
    assert axis[0] == "0 s" and len(axis) >= 3, axis
    assert "." not in "".join(values)  # humane durations, no milliseconds
    page.screenshot(path=str(shots / "dashboard-en.png"), full_page=True)
    page.locator("#ack-by-day").screenshot(path=str(shots / "dashboard-chart-en.png"))

    # The page's ratios are the report API's for the same period (the page names it).
    query = page.locator("[data-api-query]").get_attribute("data-api-query")
    for group_by, section in (("severity", "by-severity"), ("assignee", "by-responder")):
        report = page.request.get(
            f"{live_server.url}/api/v1/reports/response-times/?{query}&group_by={group_by}"
        )
        assert report.ok, report.text()
        expected = {g["key"] or "": g["ack_sla_met_ratio"] for g in report.json()["groups"]}
        assert ratios_on_page(page, section) == expected
    assert set(ratios_on_page(page, "by-severity")) == {"critical", "high", "medium", "low"}

    # A shorter period: the presets and the form keep the brand and change the figures.
    page.click('a[data-preset="7"]')
    page.wait_for_selector("#ack-by-day svg")
    page.fill("input[name=since]", (timezone.localdate() - timedelta(days=2)).isoformat())
    page.click('button[data-action="show"]')
    page.wait_for_url("**/brands/acme/dashboard/?since=*")
    assert page.locator("#ack-by-day text.day").count() == 2
    csv = page.request.get(live_server.url + page.locator('a[data-csv="day"]').get_attribute("href"))
    assert csv.ok and csv.text().count("\n") == 3  # a header and the two days


def test_the_dashboard_in_russian_on_a_phone(page_for, live_server, alice, month, shots):
    page = page_for(alice, locale="ru-RU", phone=True)
    page.goto(f"{live_server.url}/brands/acme/dashboard/")
    text = page.inner_text("main")
    for russian in ("Время до взятия в работу, по дням", "Соблюдение SLA по важности", "Итого", "медиана"):
        assert russian in text + " ".join(page.locator("svg text").all_text_contents()), russian
    values = page.locator("#ack-by-day text.value-p50").all_text_contents()
    assert any("мин" in v or " с" in v for v in values), values
    assert no_sideways_scroll(page)
    page.screenshot(path=str(shots / "dashboard-ru-phone.png"))
    page.evaluate("document.getElementById('ack-by-day').scrollIntoView()")
    page.screenshot(path=str(shots / "dashboard-ru-phone-chart.png"))
    page.evaluate("document.getElementById('by-severity').scrollIntoView()")
    page.screenshot(path=str(shots / "dashboard-ru-phone-ratios.png"))
