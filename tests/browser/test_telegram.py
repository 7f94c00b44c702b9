"""Linking Telegram from the console, a person's and a brand's group chat, and seeing the link work."""

import re

import pytest
from rest_framework.test import APIClient

from incidents.models import Notification
from tests.incidents.test_outbox_delivery import deliver_until_done
from tests.integrations.chat.fake_bot_api import SECRET, group_chat, serving, start, user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def bot_api(settings):
    with serving(settings) as fake:
        yield fake


def telegram_sends(update: dict) -> None:
    """What Telegram does when the person presses Start: the update reaches our webhook."""
    answer = APIClient().post(
        "/api/v1/integrations/telegram/webhook/",
        update,
        format="json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=SECRET,
    )
    assert answer.status_code == 200


def deliver_pending() -> None:
    pending = list(Notification.all_brands.filter(status="pending").values_list("pk", flat=True))
    assert pending
    deliver_until_done(pending)


@pytest.mark.parametrize("locale", ["en-US", "ru-RU"])
def test_a_person_links_telegram_from_my_notifications_and_sees_it_work(
    page_for, bot_api, bob, shots, live_server, locale
):
    tag = locale[:2]
    page = page_for(bob, locale=locale)
    page.goto(f"{live_server.url}/me/")
    page.locator("#telegram").screenshot(path=str(shots / f"telegram-me-unlinked-{tag}.png"))
    with page.expect_navigation():
        page.click("#telegram-link")
    href = page.locator("#telegram-open").get_attribute("href")
    code = re.fullmatch(r"https://t\.me/crisis_desk_test_bot\?start=([-\w]+)", href).group(1)
    page.screenshot(path=str(shots / f"telegram-me-link-{tag}.png"))
    telegram_sends(start(code, sender=user(5001, "bob_tg")))
    page.goto(f"{live_server.url}/me/")
    assert page.locator("#telegram .link-state").get_attribute("data-state") == "untested"
    with page.expect_navigation():
        page.click("#telegram-test")
    deliver_pending()
    page.reload()
    assert page.locator("#telegram .link-state").get_attribute("data-state") == "sent"
    assert len(bot_api.sent("sendMessage", chat_id=5001)) == 2  # "Linked", then the test
    page.locator("#my-channels").screenshot(path=str(shots / f"telegram-me-linked-{tag}.png"))


def test_a_manager_links_the_group_chat_from_brand_settings_and_sees_it_work(
    page_for, bot_api, alice, acme, shots, live_server
):
    page = page_for(alice)
    page.goto(f"{live_server.url}/brands/acme/settings/#telegram")
    with page.expect_navigation():
        page.click("#telegram-group-link")
    href = page.locator("#telegram-open").get_attribute("href")
    code = re.fullmatch(r"https://t\.me/crisis_desk_test_bot\?startgroup=([-\w]+)", href).group(1)
    assert code in page.locator("#telegram-link-card").inner_text()
    page.screenshot(path=str(shots / "telegram-group-link.png"))
    telegram_sends(start(code, sender=user(7001), chat=group_chat()))
    page.goto(f"{live_server.url}/brands/acme/settings/#telegram")
    with page.expect_navigation():
        page.locator("#telegram-chats button.secondary").click()
    deliver_pending()
    page.reload()
    row = page.locator("#telegram-chats tr").first
    assert row.locator(".link-state").get_attribute("data-state") == "sent"
    assert "Acme crisis room" in row.inner_text()
    page.locator("#telegram").screenshot(path=str(shots / "telegram-group-linked.png"))
