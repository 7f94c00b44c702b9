"""
The incident page and brand settings in Chromium: a refused resolve keeps its text and
points at the open steps, a form error reads as a sentence in Russian, a reply template
fills, previews, copies and survives a reload; screenshots in English, Russian and on a
390 px phone (`incident-*.png`, `settings-*.png` under VAR_DIR/screenshots).
"""

import re

import pytest
from django.apps import apps

from crisis.tenancy import Principal
from incidents import services
from playbooks.models import ResponseTemplate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def shipped_library(db):
    """The shared playbooks and templates: a transactional test's flush removed the migration's rows."""
    if not ResponseTemplate.all_brands.filter(brand__isnull=True).exists():
        from importlib import import_module

        import_module("playbooks.migrations.0002_shipped_library").load(apps, None)


def as_user(user):
    return Principal.for_user(user)


def investigated(file_incident, bob, **fields):
    incident = file_incident(category="negative_wave", severity="critical", channel="vk", **fields)
    services.incident_claim(incident_id=incident.pk, principal=as_user(bob))
    services.incident_investigate(incident_id=incident.pk, principal=as_user(bob))
    return incident


def no_sideways_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def widest(page) -> list:
    """What sticks out past the screen's right edge, for the failure message."""
    return page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 8).map(el => el.tagName + '.' + el.className + '#' + el.id + ' ' +
                             Math.round(el.getBoundingClientRect().right))"""
    )


def test_a_refused_resolve_keeps_the_typed_text(page_for, live_server, bob, file_incident, shots):
    incident = investigated(file_incident, bob, title="Wave of angry comments under the promo post")
    open_steps = list(incident.checklist.filter(required=True).order_by("position", "id"))
    page = page_for(bob)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    typed = "Apologised in the thread; the courier issue is fixed.\nRefunds go out today."
    page.fill("textarea[name=resolution]", typed)
    page.click('button[data-action="resolve"]')

    page.wait_for_selector(".blocking-list")
    assert page.input_value("textarea[name=resolution]") == typed
    assert "Required playbook steps are still open." in page.inner_text("#resolve-form")
    listed = page.locator(".blocking-list li").all_inner_texts()
    assert listed == [step.title for step in open_steps]
    for step in open_steps:
        assert "blocking" in page.get_attribute(f"#step-{step.pk}", "class")
    # A link in the list takes the person to the step.
    page.click(f'.blocking-list a[href="#step-{open_steps[-1].pk}"]')
    assert page.evaluate("location.hash") == f"#step-{open_steps[-1].pk}"
    page.screenshot(path=str(shots / "incident-refused-resolve.png"), full_page=True)


def test_a_form_error_reads_as_a_sentence_in_russian(page_for, live_server, alice, shots):
    page = page_for(alice, locale="ru-RU")
    page.goto(f"{live_server.url}/brands/acme/settings/")
    page.fill("#id_levels-0-users", "nosuchuser")
    page.click("#escalation-form button[type=submit]")
    error = page.locator("#escalation-form .errorlist").first
    assert error.inner_text().strip() == "Не участники этого бренда: nosuchuser"
    body = page.inner_text("body")
    assert "ErrorDetail" not in body and "levels:" not in body
    # The SLA form's own errors are Russian sentences too.
    page.fill("#id_critical_ack_0", "0")
    page.click("#sla-form button[type=submit]")
    assert "Укажите больше нуля." in page.inner_text("#sla-form")
    page.screenshot(path=str(shots / "settings-ru-errors.png"), full_page=True)


def test_a_reply_template_fills_previews_copies_and_survives_a_reload(
    page_for, live_server, bob, file_incident, shots
):
    incident = investigated(file_incident, bob)
    template = ResponseTemplate.all_brands.get(category="negative_wave", language="en", brand__isnull=True)
    page = page_for(bob)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    box = f'details[data-reply="{incident.pk}:{template.pk}"]'
    text = f"{box} textarea.reply-text"
    assert "{customer_name}" in page.input_value(text)
    assert page.input_value(f"{box} input[name=reply-{template.pk}-brand]") == "Acme Coffee"

    page.fill(f"{box} input[name=reply-{template.pk}-customer_name]", "Anna")
    page.fill(f"{box} input[name=reply-{template.pk}-issue]", "a cold latte")
    page.wait_for_function(
        "sel => document.querySelector(sel).value.startsWith('Hello, Anna!')", arg=text, timeout=5000
    )
    assert "about a cold latte" in page.input_value(text)

    page.click(f"{box} [data-copy]")
    page.wait_for_function(
        "sel => document.querySelector(sel).textContent.length > 0", arg=f"{box} .reply-status"
    )
    assert page.evaluate("navigator.clipboard.readText()") == page.input_value(text)

    # Made personal by hand; a later change of a field does not overwrite it.
    page.fill(text, page.input_value(text) + " Sorry again, Anna.")
    page.fill(f"{box} input[name=reply-{template.pk}-reply_by]", "18:00")
    page.wait_for_timeout(600)
    assert page.input_value(text).endswith("Sorry again, Anna.")

    # An action reloads the page (a step done here): the draft is still there.
    page.locator("button[data-complete]").first.click()
    page.wait_for_selector(".messages li.success")
    assert page.input_value(text).endswith("Sorry again, Anna.")
    assert page.input_value(f"{box} input[name=reply-{template.pk}-customer_name]") == "Anna"
    page.screenshot(path=str(shots / "incident-reply-draft.png"), full_page=True)

    page.click(f"{box} [data-reset]")
    assert "{customer_name}" in page.input_value(text)
    page.reload()
    assert "{customer_name}" in page.input_value(text)


def reviewed(file_incident, alice, bob, incident_in):
    incident = file_incident(
        title="Фейк о плесени в стаканах", category="fake_news", severity="high", channel="telegram"
    )
    incident = incident_in(incident, "resolved", manager=alice, responder=bob)
    services.incident_review(
        incident_id=incident.pk,
        principal=as_user(alice),
        summary="The story was a fake; the photo is from another chain.",
        root_cause="A competitor's paid posts in three channels.",
        lessons="Capture evidence first; answer with the lab report within the hour.",
        follow_ups=[{"title": "Publish the lab report"}, {"title": "Brief the hot line"}],
    )
    return incident


@pytest.mark.parametrize(
    "name, locale, phone",
    [("en", "en-US", False), ("ru", "ru-RU", False), ("phone", "ru-RU", True)],
)
def test_screenshots_of_the_incident_page(
    name, locale, phone, page_for, live_server, alice, bob, file_incident, incident_in, shots
):
    fresh = file_incident(
        title="Wave of angry comments under the promo post",
        category="negative_wave",
        severity="critical",
        channel="vk",
        description="Dozens of comments about cold coffee and rude couriers since 9:00.",
        source_url="https://vk.com/wall-1_2",
    )
    closed = reviewed(file_incident, alice, bob, incident_in)
    page = page_for(bob, locale=locale, phone=phone)

    page.goto(f"{live_server.url}/incidents/{fresh.pk}/")
    claim = page.locator('button[data-action="claim"]')
    assert claim.is_visible()
    if phone:
        # Within thumb reach: the claim button sits in the bottom part of the screen.
        box = claim.bounding_box()
        assert box["y"] + box["height"] <= page.viewport_size["height"]
        assert box["y"] > page.viewport_size["height"] * 0.6
        assert no_sideways_scroll(page), widest(page)
    page.screenshot(path=str(shots / f"incident-open-{name}.png"), full_page=True)

    page.goto(f"{live_server.url}/incidents/{closed.pk}/")
    review = page.inner_text("#review")
    labels = {
        "en": ["Summary", "Root cause", "Lessons", "Follow-ups", "Time to acknowledge", "Time to resolve"],
        "ru": ["Итог", "Первопричина", "Выводы", "Дальнейшие шаги", "Время до ответа", "Время до решения"],
    }["en" if locale == "en-US" else "ru"]
    for label in labels:
        assert label in review
    assert re.search(r"\d+ (s|min|h|с|мин|ч)\b", review)  # a humane duration, not raw seconds
    if phone:
        assert no_sideways_scroll(page), widest(page)
    page.screenshot(path=str(shots / f"incident-reviewed-{name}.png"), full_page=True)


@pytest.mark.parametrize(
    "name, locale, phone",
    [("en", "en-US", False), ("ru", "ru-RU", False), ("phone", "ru-RU", True)],
)
def test_screenshots_of_brand_settings(name, locale, phone, page_for, live_server, alice, bob, shots):
    page = page_for(alice, locale=locale, phone=phone)
    page.goto(f"{live_server.url}/brands/acme/settings/")
    assert page.input_value("#id_critical_ack_0") == "10"
    assert page.input_value("#id_critical_ack_1") == "minutes"
    assert page.input_value("#id_critical_resolve_0") == "4"
    assert page.input_value("#id_critical_resolve_1") == "hours"
    page.screenshot(path=str(shots / f"settings-{name}.png"), full_page=True)
    if phone:
        assert no_sideways_scroll(page), widest(page)

    # A target under a minute: the page asks, the second save with the box ticked keeps it.
    page.fill("#id_high_ack_0", "0.5" if locale == "en-US" else "0,5")
    page.click("#sla-form button[type=submit]")
    page.wait_for_selector("#id_confirm_short")
    page.screenshot(path=str(shots / f"settings-confirm-{name}.png"), full_page=True)
    page.check("#id_confirm_short")
    page.click("#sla-form button[type=submit]")
    page.wait_for_selector(".messages li.success")
    assert alice.memberships.get().brand.sla_policies.get(severity="high").ack_seconds == 30
