"""
The wave on its incident's page in Chromium: a wave of 500 mentions shows its loudest
first, its chart with the moments of detection, claim and resolution marked, and pages
on and back; in Russian, and on a 390 px phone without sideways scroll (`wave-*.png`
under VAR_DIR/screenshots).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import WaveMention
from tests.conftest import drive_to
from tests.incidents.waves import make_wave

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def loudest_first(incident) -> list[str]:
    return [
        str(pk)
        for pk in WaveMention.all_brands.filter(incident=incident)
        .order_by("-reach", "-mention_id")
        .values_list("mention_id", flat=True)
    ]


def resolved_wave(file_incident, alice, bob, count=500):
    """A wave of `count` mentions over 100 minutes: claimed after 20, a statement at 40, resolved at 70."""
    detected = timezone.now() - timedelta(minutes=110)
    wave = make_wave(file_incident, count=count, detected_at=detected, span=timedelta(minutes=100))
    drive_to(wave, "resolved", manager=alice, responder=bob)
    # The moments, set where a real wave would have them (the services stamp "now").
    type(wave).all_brands.filter(pk=wave.pk).update(
        acknowledged_at=detected + timedelta(minutes=20),
        first_statement_at=detected + timedelta(minutes=40),
        resolved_at=detected + timedelta(minutes=70),
    )
    return wave


def no_sideways_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_a_wave_of_500_shows_its_loudest_its_chart_and_pages_on(
    page_for, live_server, alice, bob, file_incident, shots
):
    wave = resolved_wave(file_incident, alice, bob)
    order = loudest_first(wave)
    page = page_for(bob)
    page.goto(f"{live_server.url}/incidents/{wave.pk}/")
    rows = page.locator("table.mentions tbody tr")
    assert rows.count() == 50
    assert [rows.nth(i).get_attribute("data-mention") for i in range(50)] == order[:50]
    reaches = [int(rows.nth(i).get_attribute("data-reach")) for i in range(50)]
    assert reaches == sorted(reaches, reverse=True)
    assert page.locator("table.mentions tr.loud .loud-badge").count() >= 1
    chart = page.locator("#wave-chart svg.wave-chart")
    assert chart.is_visible()
    moments = (
        ("detected", "Detected"),
        ("claimed", "Claimed"),
        ("statement", "Public statement"),
        ("resolved", "Resolved"),
    )
    for kind, label in moments:
        marker = chart.locator(f'g[data-moment="{kind}"]')
        assert marker.count() == 1 and marker.locator("text").text_content() == label
    # Claim, statement and resolution sit 20, 40 and 70 minutes into the chart, in that order.
    xs = {
        kind: float(chart.locator(f'g[data-moment="{kind}"] line').get_attribute("x1"))
        for kind in ("detected", "claimed", "statement", "resolved")
    }
    assert xs["detected"] < xs["claimed"] < xs["statement"] < xs["resolved"]
    assert chart.locator("rect.vol").count() >= 20  # five-minute bars over 110 minutes
    assert chart.locator("text.tick").count() >= 6  # both axes carry labels
    figures = page.inner_text("#wave-figures")
    assert "500" in figures and "Before the claim" in figures and "After the resolution" in figures
    page.locator("#wave").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "wave-en.png"), full_page=True)
    page.locator("#wave").screenshot(path=str(shots / "wave-card-en.png"))

    seen = order[:50]
    for number in range(2, 5):
        with page.expect_navigation():
            page.click('a[data-page="next"]')
        ids = [rows.nth(i).get_attribute("data-mention") for i in range(rows.count())]
        assert ids == order[50 * (number - 1) : 50 * number], number
        seen += ids
    assert len(set(seen)) == 200
    with page.expect_navigation():
        page.click('a[data-page="previous"]')
    assert rows.first.get_attribute("data-mention") == order[100]
    page.locator("#wave-mentions").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "wave-page-3.png"))
    with page.expect_navigation():
        page.click('a[data-page="first"]')
    assert rows.first.get_attribute("data-mention") == order[0]


def test_the_wave_in_russian_on_a_phone(page_for, live_server, alice, bob, file_incident, shots):
    wave = resolved_wave(file_incident, alice, bob)
    page = page_for(bob, locale="ru-RU", phone=True)
    page.goto(f"{live_server.url}/incidents/{wave.pk}/")
    text = page.inner_text("#wave")
    for russian in ("Волна", "До взятия в работу", "После решения", "Упоминания"):
        assert russian in text, russian
    labels = page.locator("#wave-chart g.moment text").all_text_contents()
    assert labels == ["Обнаружен", "Взят в работу", "Публичное заявление", "Решён"]
    # As drawn on the phone, no two moments' labels overlap (they share rows where they fit).
    boxes = [text.bounding_box() for text in page.locator("#wave-chart g.moment text").all()]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            apart = a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
            assert apart or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"], (a, b)
    assert no_sideways_scroll(page)
    page.evaluate("document.getElementById('wave').scrollIntoView()")
    page.screenshot(path=str(shots / "wave-ru-phone.png"))
    page.evaluate("document.getElementById('wave-mentions').scrollIntoView()")
    page.screenshot(path=str(shots / "wave-ru-phone-mentions.png"))
