"""Linking a person and a brand's group chat by one-time code, over the webhook and long polling."""

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from incidents.models import ContactChannel
from integrations.chat.models import TelegramAccount, TelegramChat, TelegramLinkCode

from .fake_bot_api import BOT_USERNAME, SECRET, group_chat, start, user

pytestmark = pytest.mark.django_db

WEBHOOK = "/api/v1/integrations/telegram/webhook/"


def webhook(api, update, *, secret=SECRET):
    headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": secret} if secret is not None else {}
    return api(None).post(WEBHOOK, update, format="json", **headers)


def person_code(api, person) -> dict:
    answer = api(person).post("/api/v1/me/channels/telegram/link/")
    assert answer.status_code == 201, answer.content
    return answer.json()


def test_a_person_links_by_the_code_of_their_deep_link(bot_api, api, bob):
    link = person_code(api, bob)
    assert link["url"] == f"https://t.me/{BOT_USERNAME}?start={link['code']}"
    assert 10 <= len(link["code"]) <= 64
    assert link["code"].replace("-", "").replace("_", "").isalnum()
    sender = user(5001, "bob_tg")
    assert webhook(api, start(link["code"], sender=sender)).status_code == 200
    account = TelegramAccount.objects.get(user=bob)
    assert account.telegram_user_id == 5001
    assert list(ContactChannel.objects.filter(user=bob).values_list("kind", "target")) == [
        ("telegram", "5001")
    ]
    [said] = bot_api.sent("sendMessage", chat_id=5001)
    assert "bob" in said["text"]
    # The code is stored hashed, never as given.
    assert not TelegramLinkCode.all_brands.filter(digest=link["code"]).exists()


def test_a_used_code_is_refused_and_changes_nothing(bot_api, api, bob, dave):
    link = person_code(api, bob)
    webhook(api, start(link["code"], sender=user(5001)))
    # Someone else (dave's Telegram) sends the same code again.
    assert webhook(api, start(link["code"], sender=user(5002))).status_code == 200
    assert list(TelegramAccount.objects.values_list("user__username", "telegram_user_id")) == [("bob", 5001)]
    assert ContactChannel.objects.filter(target="5002").count() == 0
    [refusal] = bot_api.sent("sendMessage", chat_id=5002)
    assert "used, expired or unknown" in refusal["text"]


def test_an_expired_code_is_refused(bot_api, api, bob):
    link = person_code(api, bob)
    with time_machine.travel(timezone.now() + timedelta(minutes=10, seconds=1)):
        webhook(api, start(link["code"], sender=user(5001)))
    assert not TelegramAccount.objects.exists()
    assert not ContactChannel.objects.filter(kind="telegram").exists()
    assert "expired" in bot_api.sent("sendMessage", chat_id=5001)[0]["text"]
    # Ten minutes, as API.md says.
    expires = TelegramLinkCode.all_brands.get().expires_at
    assert expires - TelegramLinkCode.all_brands.get().created_at == timedelta(minutes=10)


def test_an_unknown_code_and_a_bare_start_link_nothing(bot_api, api):
    webhook(api, start("no-such-code", sender=user(5001)))
    webhook(api, {"message": {**start("x", sender=user(5001))["message"], "text": "/start"}})
    assert not TelegramAccount.objects.exists()
    assert len(bot_api.sent("sendMessage", chat_id=5001)) == 2


def test_linking_again_moves_the_telegram_account(bot_api, api, bob, dave):
    webhook(api, start(person_code(api, bob)["code"], sender=user(5001)))
    webhook(api, start(person_code(api, dave)["code"], sender=user(5001)))
    assert list(TelegramAccount.objects.values_list("user__username", flat=True)) == ["dave"]
    assert list(ContactChannel.objects.filter(kind="telegram").values_list("user__username", flat=True)) == [
        "dave"
    ]


def test_a_manager_links_the_brands_group_chat(bot_api, api, alice, acme):
    answer = api(alice).post("/api/v1/brands/acme/chats/link/")
    assert answer.status_code == 201
    code = answer.json()["code"]
    assert answer.json()["url"] == f"https://t.me/{BOT_USERNAME}?startgroup={code}"
    chat = group_chat()
    webhook(api, start(code, sender=user(7001), chat=chat))
    linked = TelegramChat.all_brands.get()
    assert (linked.brand, linked.chat_id, linked.title, linked.linked_by) == (
        acme,
        chat["id"],
        chat["title"],
        alice,
    )
    assert "Acme Coffee" in bot_api.sent("sendMessage", chat_id=chat["id"])[0]["text"]
    listed = api(alice).get("/api/v1/brands/acme/chats/")
    assert listed.status_code == 200
    assert [(c["chat_id"], c["title"], c["linked_by"]) for c in listed.json()["results"]] == [
        (chat["id"], chat["title"], "alice")
    ]
    assert api(alice).delete(f"/api/v1/brands/acme/chats/{linked.pk}/").status_code == 204
    assert not TelegramChat.all_brands.exists()


def test_a_group_code_in_a_private_chat_and_a_person_code_in_a_group_are_refused(bot_api, api, alice, bob):
    group_code = api(alice).post("/api/v1/brands/acme/chats/link/").json()["code"]
    webhook(api, start(group_code, sender=user(7001)))
    person = person_code(api, bob)["code"]
    webhook(api, start(person, sender=user(5001), chat=group_chat()))
    assert not TelegramChat.all_brands.exists()
    assert not TelegramAccount.objects.exists()


def test_only_the_brands_managers_link_and_see_its_chats(bot_api, api, bob, carol, mallory, alice):
    for person, expected in ((bob, 403), (carol, 403), (mallory, 404)):
        assert api(person).post("/api/v1/brands/acme/chats/link/").status_code == expected
        assert api(person).get("/api/v1/brands/acme/chats/").status_code == expected
    chat = TelegramChat.all_brands.create(brand=alice.memberships.get().brand, chat_id=-1, title="x")
    assert api(mallory).delete(f"/api/v1/brands/acme/chats/{chat.pk}/").status_code == 404
    assert api(bob).delete(f"/api/v1/brands/acme/chats/{chat.pk}/").status_code == 403
    assert api(alice).delete("/api/v1/brands/acme/chats/999999/").status_code == 404
    assert TelegramChat.all_brands.count() == 1
    assert api(None).post("/api/v1/me/channels/telegram/link/").status_code == 401


def test_without_a_token_telegram_is_not_offered(settings, api, bob, alice):
    settings.TELEGRAM_BOT_TOKEN = ""
    answer = api(bob).post("/api/v1/me/channels/telegram/link/")
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_configured"
    assert api(alice).post("/api/v1/brands/acme/chats/link/").status_code == 404
    assert not TelegramLinkCode.all_brands.exists()


def test_a_telegram_channel_cannot_be_typed_in(bot_api, api, bob):
    answer = api(bob).post("/api/v1/me/channels/", {"kind": "telegram", "target": "5001"}, format="json")
    assert answer.status_code == 400
    assert not ContactChannel.objects.exists()


# --- The webhook's secret -----------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x", SECRET[:-1]])
def test_a_webhook_call_without_or_with_a_wrong_secret_is_403_and_changes_nothing(bot_api, api, bob, secret):
    link = person_code(api, bob)
    answer = webhook(api, start(link["code"], sender=user(5001)), secret=secret)
    assert answer.status_code == 403
    assert not TelegramAccount.objects.exists()
    assert TelegramLinkCode.all_brands.get().used_at is None
    assert bot_api.sent("sendMessage") == []


def test_without_a_secret_set_the_webhook_is_closed(bot_api, api, bob, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = ""
    link = person_code(api, bob)
    assert webhook(api, start(link["code"], sender=user(5001)), secret="").status_code == 403
    assert not TelegramAccount.objects.exists()


@pytest.mark.parametrize(
    "body", [b"", b"{", b"[]", b'"x"', b'{"message": 5}', b'{"callback_query": {"id": 1}}']
)
def test_a_webhook_update_of_any_shape_is_no_500(bot_api, api, body):
    answer = api(None).post(
        WEBHOOK, body, content_type="application/json", HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=SECRET
    )
    assert answer.status_code in (200, 400)


# --- Long polling --------------------------------------------------------------------------------


def test_long_polling_deletes_the_webhook_then_links_by_code(bot_api, api, bob, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = ""
    link = person_code(api, bob)
    bot_api.queue_update(start(link["code"], sender=user(5001)))
    call_command("telegram_poll", once=True, poll_timeout=0)
    methods = [method for _at, method, _params in bot_api.calls]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")
    assert TelegramAccount.objects.get().user == bob


def test_long_polling_idles_while_a_webhook_secret_is_set(bot_api, capsys):
    call_command("telegram_poll", once=True, poll_timeout=0)
    assert "nothing to poll" in capsys.readouterr().out
    assert bot_api.calls == []


def test_the_brands_chats_are_listed_in_a_fixed_number_of_queries(
    bot_api, api, alice, acme, django_assert_max_num_queries
):
    client = api(alice)
    for i in range(12):
        TelegramChat.all_brands.create(brand=acme, chat_id=-100 - i, title=f"room {i}", linked_by=alice)
    with django_assert_max_num_queries(6):
        answer = client.get("/api/v1/brands/acme/chats/?page_size=10")
    assert answer.json()["count"] == 12 and len(answer.json()["results"]) == 10


def test_the_schema_names_the_chat_endpoints(db, api):
    paths = api(None).get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    for path in (
        "/api/v1/me/channels/telegram/link/",
        "/api/v1/brands/{slug}/chats/link/",
        "/api/v1/brands/{slug}/chats/",
        "/api/v1/brands/{slug}/chats/{id}/",
        "/api/v1/integrations/telegram/webhook/",
    ):
        assert path in paths, path


def test_while_telegram_does_not_answer_getme_no_code_is_made_and_the_answer_is_503(bot_api, api, bob):
    bot_api.fail("getMe", 502)
    answer = api(bob).post("/api/v1/me/channels/telegram/link/")
    assert answer.status_code == 503
    assert answer["Retry-After"] == "60"
    assert answer.json()["code"] == "unavailable"
    assert not TelegramLinkCode.all_brands.exists()
    assert api(bob).post("/api/v1/me/channels/telegram/link/").status_code == 201
