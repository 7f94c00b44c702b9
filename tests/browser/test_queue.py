"""
The lists and filing in a real browser: the queue (filters kept across refreshes, its order,
countdowns, phone cards with a Claim button under the thumb), filing from the console and a
duplicate, history and search, and reviewing from the awaiting-review list. Screenshots of
the queue, history, awaiting-review and filing pages in English, Russian and on a phone.
"""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crisis.tenancy import Principal
from incidents import filing
from incidents.models import Incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def file(by, **fields) -> Incident:
    fields.setdefault("title", "Angry comments under the promo post")
    return filing.incident_file(
        principal=Principal.for_user(by), brand=by.memberships.get().brand, **fields
    ).incident


def row_ids(page) -> list[int]:
    return [
        int(pk)
        for pk in page.locator("#queue-rows tr[data-incident]").evaluate_all(
            "rows => rows.map(r => r.dataset.incident)"
        )
    ]


def refresh_of_rows(response) -> bool:
    """The rows' own 5-second refresh (not a change of the filter form)."""
    return response.request.headers.get("hx-trigger") == "queue-rows"


def test_a_filtered_queue_stays_filtered_across_three_refreshes(page_for, live_server, bob, alice, shots):
    page = page_for(bob)
    page.select_option("select[name=severity]", "critical")
    page.wait_for_url("**/?*severity=critical*")  # the page URL carries the filters
    low, critical = (
        file(alice, title="A low one", severity="low"),
        file(alice, title="A critical one", severity="critical"),
    )
    page.wait_for_selector(f'tr[data-incident="{critical.pk}"]', timeout=12_000)
    for refresh in range(3):
        with page.expect_response(refresh_of_rows, timeout=12_000) as answer:
            if refresh == 1:  # a low one filed between two refreshes stays out too
                low_later = file(alice, title="Another low one", severity="low")
        assert "severity=critical" in answer.value.url
        page.wait_for_function(f"document.querySelector('tr[data-incident=\"{critical.pk}\"]') !== null")
        assert page.locator("select[name=severity]").input_value() == "critical"
        assert page.locator(f'tr[data-incident="{low.pk}"]').count() == 0
        assert "severity=critical" in page.url
    assert page.locator(f'tr[data-incident="{low_later.pk}"]').count() == 0
    page.screenshot(path=str(shots / "queue-filtered.png"), full_page=True)
    # A bookmark of the filtered queue opens filtered.
    page.goto(page.url)
    assert page.locator("select[name=severity]").input_value() == "critical"
    assert row_ids(page) == [critical.pk]


@pytest.fixture
def urgent(alice, bob, incident_in):
    """Claimed incidents with long-passed claim deadlines, unclaimed ones overdue and not yet due."""
    now = timezone.now()
    claimed = incident_in(
        file(
            alice,
            title="Claimed: resolve within hours",
            severity="high",
            detected_at=now - timedelta(hours=3),
        ),
        "acknowledged",
        manager=alice,
        responder=bob,
    )
    claimed_overdue = incident_in(
        file(
            alice, title="Claimed: resolve overdue", severity="critical", detected_at=now - timedelta(hours=5)
        ),
        "investigated",
        manager=alice,
        responder=bob,
    )
    unclaimed_overdue = file(
        alice,
        title="Unclaimed: 20 min past the claim deadline",
        severity="critical",
        detected_at=now - timedelta(minutes=30),
        channel="vk",
    )
    unclaimed = file(alice, title="Unclaimed: due in 4 hours", severity="low", channel="reviews")
    return {
        "unclaimed_overdue": unclaimed_overdue,
        "unclaimed": unclaimed,
        "claimed_overdue": claimed_overdue,
        "claimed": claimed,
    }


def test_the_queue_puts_unclaimed_overdue_first_and_claimed_ones_count_to_resolving(
    page_for, live_server, bob, urgent, shots
):
    page = page_for(bob)
    assert row_ids(page) == [i.pk for i in urgent.values()]

    def deadline(name):
        return page.locator(f'tr[data-incident="{urgent[name].pk}"] td.due')

    page.wait_for_function("document.querySelector('.countdown.red') !== null")
    assert "Claim by" in deadline("unclaimed_overdue").inner_text()
    assert "overdue" in deadline("unclaimed_overdue").inner_text()
    assert "red" in deadline("unclaimed_overdue").locator(".countdown").get_attribute("class")
    assert "Claim by" in deadline("unclaimed").inner_text()
    assert "overdue" not in deadline("unclaimed").inner_text()
    # Claimed: counting to the resolve deadline, not the long-passed claim deadline.
    assert "Resolve by" in deadline("claimed").inner_text()
    assert "overdue" not in deadline("claimed").inner_text()
    assert "Resolve by" in deadline("claimed_overdue").inner_text()
    assert "overdue" in deadline("claimed_overdue").inner_text()
    page.screenshot(path=str(shots / "queue-order.png"), full_page=True)


def test_on_a_phone_the_queue_is_cards_with_labels_and_a_claim_button_under_the_thumb(
    page_for, live_server, bob, urgent, shots
):
    page = page_for(bob, phone=True)
    query = "/?severity=critical"
    page.goto(f"{live_server.url}{query}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    card = page.locator(f'tr[data-incident="{urgent["unclaimed_overdue"].pk}"]')
    labels = card.locator("td[data-label]").evaluate_all(
        "cells => cells.map(c => getComputedStyle(c, '::before').content)"
    )
    assert labels == ['"Brand"', '"Severity"', '"State"', '"Assignee"']
    assert card.locator("th").count() == 0 and page.locator("table.queue thead").is_hidden()
    button, box = card.locator("button.claim"), card.bounding_box()
    target = button.bounding_box()
    assert target["width"] >= 0.9 * (box["width"] - 40) and target["height"] >= 44  # a thumb's target
    assert box["y"] + box["height"] - (target["y"] + target["height"]) <= 20  # at the bottom of the card
    # Claimed cards have no button.
    assert page.locator(f'tr[data-incident="{urgent["claimed_overdue"].pk}"] button.claim').count() == 0
    page.screenshot(path=str(shots / "queue-phone-cards.png"), full_page=True)

    with page.expect_navigation():
        button.tap()
    assert page.url == f"{live_server.url}{query}"  # back to the queue as it was filtered
    incident = Incident.all_brands.get(pk=urgent["unclaimed_overdue"].pk)
    assert (incident.state, incident.assignee.username) == ("acknowledged", "bob")
    assert "Resolve by" in page.locator(f'tr[data-incident="{incident.pk}"] td.due').inner_text()


def test_filing_from_the_console_and_again_as_a_duplicate(page_for, live_server, bob, dave, shots):
    page = page_for(bob)
    page.click("header nav >> text=File an incident")
    zone = ZoneInfo(re.search(r"Your time zone: ([^.]+)\.", page.content()).group(1))
    public_since = (timezone.now() - timedelta(minutes=25)).astimezone(zone).replace(second=0, microsecond=0)
    page.fill("#id_title", "Fake screenshot of the CEO on VK")
    page.select_option("#id_severity", "high")
    page.select_option("#id_category", "fake_news")
    page.select_option("#id_channel", "vk")
    page.fill("#id_source_url", "https://vk.com/wall-1_2")
    page.fill("#id_detected_at", public_since.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_description", "Posted at 09:12, 4,000 reposts; our logo was added in an editor.")
    page.screenshot(path=str(shots / "file.png"), full_page=True)
    page.click('button[data-action="file"]')
    incident = Incident.all_brands.get()
    page.wait_for_url(f"**/incidents/{incident.pk}/")
    assert f"Incident #{incident.pk} filed." in page.locator(".messages").inner_text()
    assert (incident.severity, incident.category, incident.channel) == ("high", "fake_news", "vk")
    assert incident.detected_at == public_since
    assert incident.reported_by_user == bob

    # Someone else files the same post: counted on the open incident, linked, nothing new.
    other = page_for(dave)
    other.goto(f"{live_server.url}/incidents/new/")
    other.fill("#id_title", "CEO fake on VK")
    other.fill("#id_source_url", "https://vk.com/wall-1_2")
    other.click('button[data-action="file"]')
    notice = other.locator(".messages li.warning")
    assert f"Counted as a duplicate of #{incident.pk}" in notice.inner_text()
    other.screenshot(path=str(shots / "file-duplicate.png"), full_page=True)
    notice.locator(f'a[href="/incidents/{incident.pk}/"]').click()
    other.wait_for_url(f"**/incidents/{incident.pk}/")
    assert Incident.all_brands.count() == 1
    assert Incident.all_brands.get().duplicate_count == 1


def test_a_refused_filing_keeps_what_was_typed_and_says_why_next_to_the_field(
    page_for, live_server, bob, shots
):
    page = page_for(bob, phone=True)
    page.goto(f"{live_server.url}/incidents/new/")
    page.fill("#id_title", "Blocked on Instagram")
    page.fill("#id_description", "Every post since noon returns an error.")
    page.fill("#id_detected_at", "2099-01-01T10:00")
    page.click('button[data-action="file"]')
    error = page.locator('[data-field="detected_at"] .errorlist')
    assert error.inner_text() == "Must not be in the future."
    assert page.locator("#id_title").input_value() == "Blocked on Instagram"
    assert page.locator("#id_description").input_value() == "Every post since noon returns an error."
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(shots / "file-error-phone.png"), full_page=True)
    assert not Incident.all_brands.exists()


def test_history_finds_incidents_in_any_state(page_for, live_server, bob, alice, incident_in, shots):
    resolved = incident_in(
        file(alice, title="Плохой отзыв о доставке", severity="high", channel="reviews"),
        "resolved",
        manager=alice,
        responder=bob,
    )
    file(alice, title="Something else")
    page = page_for(bob)
    page.click("header nav >> text=History")
    page.fill("input[name=q]", "ОТЗЫВ")
    page.select_option("select[name=state]", "resolved")
    page.click("#history-filters button[type=submit]")
    page.wait_for_url("**/history/?*q=*")
    assert "state=resolved" in page.url
    assert [
        int(pk)
        for pk in page.locator("tr[data-incident]").evaluate_all("rows => rows.map(r => r.dataset.incident)")
    ] == [resolved.pk]
    page.screenshot(path=str(shots / "history-search.png"), full_page=True)


def test_a_manager_reviews_from_the_awaiting_review_list(
    page_for, live_server, alice, bob, incident_in, shots
):
    now = timezone.now()
    older = incident_in(
        file(alice, title="Courier was rude on camera", detected_at=now - timedelta(hours=30)),
        "resolved",
        manager=alice,
        responder=bob,
    )
    Incident.all_brands.filter(pk=older.pk).update(resolved_at=now - timedelta(hours=26))
    newer = incident_in(file(alice, title="Promo code leaked"), "resolved", manager=alice, responder=bob)
    page = page_for(alice)
    page.click("header nav >> text=Awaiting review")
    rows = page.locator("tr[data-incident]")
    assert [int(pk) for pk in rows.evaluate_all("rows => rows.map(r => r.dataset.incident)")] == [
        older.pk,
        newer.pk,
    ]
    assert "1 d 2 h" in rows.first.locator("td.waited").inner_text()
    page.screenshot(path=str(shots / "awaiting-review-list.png"), full_page=True)

    rows.first.locator("td.title a").click()
    page.wait_for_url(re.compile(rf"/incidents/{older.pk}/#review-form$"))
    form = page.locator("#review-form")
    form.locator("textarea[name=summary]").fill("The courier was rude; the video went viral.")
    form.locator("textarea[name=root_cause]").fill("No script for filmed conflicts.")
    form.locator("textarea[name=lessons]").fill("Answer within 15 minutes, personally.")
    form.locator("textarea[name=follow_ups]").fill("Courier training")
    with page.expect_navigation():
        form.locator('button[data-action="review"]').click()
    assert Incident.all_brands.get(pk=older.pk).state == "reviewed"
    page.click("header nav >> text=Awaiting review")
    assert [
        int(pk)
        for pk in page.locator("tr[data-incident]").evaluate_all("rows => rows.map(r => r.dataset.incident)")
    ] == [newer.pk]


@pytest.mark.parametrize(
    ("variant", "locale", "phone"),
    [("en", "en-US", False), ("ru", "ru-RU", False), ("phone", "en-US", True), ("phone-ru", "ru-RU", True)],
)
def test_screenshots_of_the_lists_and_filing(
    variant, locale, phone, page_for, live_server, alice, bob, urgent, incident_in, shots
):
    incident_in(
        file(
            alice,
            title="Отзыв: курьер нагрубил покупателю",
            severity="medium",
            channel="reviews",
            detected_at=timezone.now() - timedelta(hours=8),
        ),
        "resolved",
        manager=alice,
        responder=bob,
    )
    page = page_for(alice, locale=locale, phone=phone)
    for name, path in (
        ("queue", "/"),
        ("history", "/history/"),
        ("awaiting-review", "/awaiting-review/"),
        ("file", "/incidents/new/"),
    ):
        page.goto(f"{live_server.url}{path}")
        if phone:
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
        if locale == "ru-RU":
            assert page.locator("html").get_attribute("lang") == "ru"
        page.screenshot(path=str(shots / f"{name}-{variant}.png"), full_page=True)
