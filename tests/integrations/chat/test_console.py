"""The console's Telegram forms: who may link what, and what a page shows without a token."""

import pytest

from integrations.chat.models import TelegramChat, TelegramLinkCode

pytestmark = pytest.mark.django_db


def signed_in(client, person):
    client.force_login(person)
    return client


def test_my_notifications_offers_telegram_only_with_a_token(client, bob, settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    assert 'id="telegram-link"' not in signed_in(client, bob).get("/me/").content.decode()


def test_the_link_page_shows_the_deep_link(bot_api, client, bob):
    page = signed_in(client, bob).post("/me/telegram/link/")
    assert page.status_code == 200
    row = TelegramLinkCode.all_brands.get()
    assert row.user == bob and row.purpose == "person"
    assert "https://t.me/crisis_desk_test_bot?start=" in page.content.decode()


@pytest.mark.parametrize(("who", "status"), [("bob", 403), ("carol", 403), ("mallory", 404)])
def test_only_the_brands_managers_link_test_and_unlink_its_chats(bot_api, client, acme, request, who, status):
    person = request.getfixturevalue(who)
    chat = TelegramChat.all_brands.create(brand=acme, chat_id=-100, title="room")
    signed_in(client, person)
    assert client.post("/brands/acme/settings/telegram/link/").status_code == status
    assert client.post(f"/brands/acme/settings/telegram/{chat.pk}/test/").status_code == status
    assert client.post(f"/brands/acme/settings/telegram/{chat.pk}/unlink/").status_code == status
    assert TelegramChat.all_brands.count() == 1
    assert not TelegramLinkCode.all_brands.exists()


def test_a_manager_tests_and_unlinks_a_chat(bot_api, client, acme, alice):
    chat = TelegramChat.all_brands.create(brand=acme, chat_id=-100, title="room")
    signed_in(client, alice)
    assert client.post(f"/brands/acme/settings/telegram/{chat.pk}/test/").status_code == 302
    assert 'data-state="pending"' in client.get("/brands/acme/settings/").content.decode()
    for _ in range(4):
        client.post(f"/brands/acme/settings/telegram/{chat.pk}/test/")
    refused = client.post(f"/brands/acme/settings/telegram/{chat.pk}/test/", follow=True)
    assert "Too many test messages" in refused.content.decode()
    assert client.post(f"/brands/acme/settings/telegram/{chat.pk}/unlink/").status_code == 302
    assert not TelegramChat.all_brands.exists()
