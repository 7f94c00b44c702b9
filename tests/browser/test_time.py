"""
Time in a real browser: times shown in the viewer's chosen zone, UTC on hover, countdowns
in humane units; and "My notifications" (add a channel, test it, see it delivered).
Screenshots of the page in English, in Russian and on a phone.
"""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crisis import services as crisis_services
from crisis.tenancy import Principal
from incidents import filing, outbox
from incidents.models import ContactChannel, Notification

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def file(by, **fields):
    fields.setdefault("title", "Angry comments under the promo post")
    return filing.incident_file(
        principal=Principal.for_user(by), brand=by.memberships.get().brand, **fields
    ).incident


def times_on(page) -> list[dict]:
    return page.locator("time[datetime]").evaluate_all(
        "els => els.map(e => ({text: e.textContent.trim(), title: e.title, at: e.getAttribute('datetime')}))"
    )


def test_times_shown_in_the_chosen_zone(page_for, live_server, bob, alice, shots):
    crisis_services.profile_update(user=bob, time_zone="Asia/Tokyo")
    detected = (timezone.now() - timedelta(minutes=3)).replace(microsecond=0)
    incident = file(alice, severity="high", detected_at=detected)
    page = page_for(bob)

    # The queue: its deadline in Tokyo's time, UTC on hover; the countdown in minutes and seconds.
    row = page.locator(f'tr[data-incident="{incident.pk}"]')
    due = incident.ack_due_at.astimezone(TOKYO)
    shown = row.locator("time[datetime]").first
    assert shown.inner_text() == f"{due:%H:%M} JST"
    utc = incident.ack_due_at.astimezone(ZoneInfo("UTC"))
    assert shown.get_attribute("title") == f"{utc:%Y-%m-%d %H:%M:%S} UTC"
    page.wait_for_function(r"/^\d+ min \d+ s$/.test(document.querySelector('.countdown').textContent)")
    shown.hover()  # what a person does to see UTC
    page.screenshot(path=str(shots / "time-queue-tokyo.png"), full_page=True)

    # The incident: every time on the page is Tokyo's, labelled, with its UTC instant.
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    times = times_on(page)
    assert times, "the incident page shows no labelled time"
    for time in times:
        assert time["text"].endswith(" JST"), time
        assert time["title"].endswith(" UTC") and time["at"].endswith("Z"), time
    assert f"{detected.astimezone(TOKYO):%Y-%m-%d %H:%M} JST" in [t["text"] for t in times]
    raw_utc = re.search(r"\d{2}:\d{2}(:\d{2})? UTC", page.locator("main").inner_text())
    assert raw_utc is None, f"a time left in UTC: {raw_utc}"
    page.screenshot(path=str(shots / "time-incident-tokyo.png"), full_page=True)

    # Back to the brand's zone (UTC here): the same instant, labelled UTC.
    crisis_services.profile_update(user=bob, time_zone="")
    page.reload()
    assert f"{detected:%Y-%m-%d %H:%M} UTC" in [t["text"] for t in times_on(page)]


def test_my_notifications_add_test_and_see_it_delivered(page_for, live_server, bob, shots):
    page = page_for(bob)
    page.click("text=My notifications")
    page.wait_for_url("**/me/")
    assert "the desk cannot reach you" in page.locator("#my-channels").inner_text()
    # A bad address: a sentence next to the field, nothing saved.
    page.select_option("#id_kind", "email")
    page.fill("#id_target", "not an address")
    page.click("#channel-form button[type=submit]")
    assert page.locator("#channel-form .field.invalid .errorlist").inner_text().strip()
    assert not ContactChannel.objects.filter(user=bob).exists()
    page.fill("#id_target", "bob@acme.test")
    page.click("#channel-form button[type=submit]")
    channel = ContactChannel.objects.get(user=bob)
    page.click(f'button[data-test="{channel.pk}"]')
    assert "on its way" in page.locator("#me-tests").inner_text()
    # The worker's part, here: deliver what the outbox holds. The page sees it by itself.
    notification = Notification.all_brands.get(recipient=bob, reason=outbox.TEST_REASON)
    assert outbox.deliver(notification.pk) == "sent"
    page.wait_for_selector("#me-tests li.sent", timeout=10_000)
    assert "delivered" in page.locator("#me-tests").inner_text()
    page.screenshot(path=str(shots / "me-en.png"), full_page=True)


def test_my_notifications_in_russian_and_on_a_phone(page_for, live_server, bob, dave, shots):
    crisis_services.profile_update(user=bob, time_zone="Europe/Moscow", language="ru")
    ContactChannel.objects.create(user=bob, kind="email", target="bob@acme.test")
    ContactChannel.objects.create(
        user=bob, kind="webhook", target="https://hooks.example.com/crisis-desk/bob", secret="ab" * 32
    )
    ContactChannel.objects.create(
        user=bob, kind="apprise", target="tgram://123456789:abcdefghijklmnop/987654321"
    )
    page = page_for(bob, locale="ru-RU")
    page.goto(f"{live_server.url}/me/")
    assert page.locator("h1").inner_text() == "Мои уведомления"
    text = page.locator("main").inner_text()
    assert "Что мне присылает пульт" in text and "Europe/Moscow" in text
    page.screenshot(path=str(shots / "me-ru.png"), full_page=True)

    phone = page_for(bob, locale="ru-RU", phone=True)
    phone.goto(f"{live_server.url}/me/")
    width = phone.evaluate("document.documentElement.scrollWidth")
    phone.screenshot(path=str(shots / "me-phone.png"), full_page=True)
    assert width <= 400  # no sideways scrolling on a phone
