"""
Telegram as a channel of the outbox, against the fake Bot API: a person's notifications,
a brand's group card (one message per incident, edited as it moves), Telegram's 429 and
500 answers, and 1,000 cards to one group paced within its limit.
"""

import time
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from crisis.models import Profile
from crisis.tenancy import Principal
from incidents import services
from incidents.models import ContactChannel, Notification, TimelineEvent
from integrations.chat.models import TelegramAccount, TelegramChat, TelegramMessage
from integrations.chat.telegram import CARD
from tests.incidents.test_outbox_delivery import deliver_until_done, statuses

pytestmark = pytest.mark.django_db

GROUP = -1001234567890


def link_person(user, telegram_id: int) -> None:
    TelegramAccount.objects.create(user=user, telegram_user_id=telegram_id)
    ContactChannel.objects.create(user=user, kind="telegram", target=str(telegram_id))


def telegram_rows() -> list[int]:
    return list(
        Notification.all_brands.filter(channel="telegram").order_by("pk").values_list("pk", flat=True)
    )


def personal_row(incident, user, target: str, *, reason="escalated", body="") -> int:
    row = Notification.all_brands.create(
        brand_id=incident.brand_id,
        incident=incident,
        recipient=user,
        channel="telegram",
        target=target,
        reason=reason,
        subject=f"[Acme] Escalation level 1: {incident.title}",
        body=body or "body",
        payload={"event": reason},
        idempotency_key=uuid.uuid4(),
        next_attempt_at=timezone.now() + timedelta(minutes=1),
    )
    return row.pk


def callbacks(message: dict) -> list[str]:
    return [
        b.get("callback_data") or b.get("url")
        for row in message["reply_markup"]["inline_keyboard"]
        for b in row
    ]


# --- A person's ------------------------------------------------------------------------------------


def test_a_persons_escalation_arrives_in_their_language_with_buttons(
    bot_api, file_incident, bob, dave, settings
):
    settings.SITE_URL = "https://desk.example"
    link_person(bob, 5001)
    link_person(dave, 5002)
    Profile.objects.create(user=dave, language="ru")
    incident = file_incident(title="Angry comments", severity="high")
    ids = [personal_row(incident, bob, "5001"), personal_row(incident, dave, "5002")]
    deliver_until_done(ids)
    assert statuses(ids) == {"sent": 2}
    [to_bob] = bot_api.sent("sendMessage", chat_id=5001)
    assert to_bob["text"].startswith("Escalation: nobody has claimed this incident yet")
    assert "Angry comments" in to_bob["text"] and "State: Detected" in to_bob["text"]
    assert callbacks(to_bob) == [
        f"c:{incident.pk}",
        f"i:{incident.pk}",
        f"https://desk.example/incidents/{incident.pk}/",
    ]
    assert all(len(data.encode()) <= 64 for data in callbacks(to_bob))
    [to_dave] = bot_api.sent("sendMessage", chat_id=5002)
    assert to_dave["text"].startswith("Эскалация")
    labels = [b["text"] for row in to_dave["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["Взять в работу", "Расследовать", "Открыть в консоли"]
    # The deliveries are on the incident's timeline, as every channel's are.
    notified = TimelineEvent.all_brands.filter(incident=incident, kind="notified", data__channel="telegram")
    assert sorted(e.data["recipient"] for e in notified) == ["bob", "dave"]


def test_a_blocked_bot_fails_the_row_at_once(bot_api, file_incident, bob):
    link_person(bob, 5001)
    incident = file_incident()
    bot_api.fail("sendMessage", 403, description="Forbidden: bot was blocked by the user")
    [pk] = [personal_row(incident, bob, "5001")]
    deliver_until_done([pk])
    row = Notification.all_brands.get(pk=pk)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "403" in row.last_error


# --- A brand's group card ---------------------------------------------------------------------------


def test_a_groups_card_is_posted_once_and_edited_as_the_incident_moves(
    bot_api, acme, alice, bob, file_incident
):
    TelegramChat.all_brands.create(brand=acme, chat_id=GROUP, title="room")
    incident = file_incident(title="Fake story about the recall")
    deliver_until_done(telegram_rows())
    [posted] = bot_api.sent("sendMessage", chat_id=GROUP)
    assert "Fake story about the recall" in posted["text"] and "New incident" in posted["text"]
    message = TelegramMessage.all_brands.get(chat_id=GROUP, incident=incident)
    assert message.message_id is not None
    services.incident_claim(incident_id=incident.pk, principal=Principal.for_user(bob))
    services.incident_investigate(incident_id=incident.pk, principal=Principal.for_user(bob))
    deliver_until_done(telegram_rows())
    assert len(bot_api.sent("sendMessage", chat_id=GROUP)) == 1
    edits = bot_api.sent("editMessageText", chat_id=GROUP)
    assert [e["message_id"] for e in edits] == [message.message_id] * 2
    assert "Claimed by bob" in edits[0]["text"]
    shown = bot_api.messages[GROUP][message.message_id]["text"]
    assert "Investigation started by bob" in shown and "State: Investigated" in shown
    assert statuses(telegram_rows()) == {"sent": 3}


def test_a_brand_without_a_linked_chat_writes_no_card(bot_api, file_incident, globex, mallory):
    TelegramChat.all_brands.create(brand=globex, chat_id=GROUP, title="globex room")
    file_incident()  # acme's
    assert telegram_rows() == []


def test_a_retried_older_card_never_winds_the_message_back(bot_api, acme, bob, file_incident):
    TelegramChat.all_brands.create(brand=acme, chat_id=GROUP)
    incident = file_incident()
    deliver_until_done(telegram_rows())
    services.incident_claim(incident_id=incident.pk, principal=Principal.for_user(bob))
    claimed = telegram_rows()[-1]
    bot_api.fail("editMessageText", 500)  # the claim's card fails once…
    deliver_until_done([claimed])
    services.incident_investigate(incident_id=incident.pk, principal=Principal.for_user(bob))
    investigating = telegram_rows()[-1]
    Notification.all_brands.filter(pk=claimed).update(not_before=None)
    deliver_until_done([investigating])  # …the next card goes first,
    deliver_until_done([claimed])  # and the claim's, retried later, is not shown over it.
    message = TelegramMessage.all_brands.get(incident=incident)
    assert "Investigation started" in bot_api.messages[GROUP][message.message_id]["text"]
    assert statuses(telegram_rows()) == {"sent": 3}


# --- Telegram's refusals: 429 and 500 ---------------------------------------------------------------


def test_429_retry_after_and_500_are_retried_nothing_lost_nothing_twice(
    bot_api, file_incident, bob, settings
):
    settings.NOTIFICATION_BACKOFF_SECONDS = 0.2
    settings.TELEGRAM_RATE_PER_PRIVATE_CHAT = ""
    link_person(bob, 5001)
    # One notification per incident: each message names its own, so each is counted apart.
    titles = [f"Wave {i}" for i in range(3)]
    ids = [personal_row(file_incident(title=title), bob, "5001", reason="sla_warning") for title in titles]
    bot_api.fail("sendMessage", 429, retry_after=2)
    bot_api.fail("sendMessage", 500, times=2)
    started = time.time()
    deliver_until_done(ids, timeout=30)
    assert statuses(ids) == {"sent": 3}
    # Three refusals, then exactly one accepted send per notification.
    assert [status for _at, _m, _p, status in bot_api.refused] == [429, 500, 500]
    accepted = Counter(
        title
        for call in bot_api.sent("sendMessage", chat_id=5001)
        for title in titles
        if title in call["text"]
    )
    assert accepted == dict.fromkeys(titles, 1)
    # Nothing reached the chat before the 429's retry_after had passed.
    assert min(bot_api.times(5001)) - started >= 2.0
    # Attempts: three refusals and three sends; rows held back by the pause were not tried.
    assert sum(Notification.all_brands.filter(pk__in=ids).values_list("attempts", flat=True)) == 6


def test_a_groups_first_card_retried_after_500_is_still_one_message(
    bot_api, acme, bob, file_incident, settings
):
    settings.NOTIFICATION_BACKOFF_SECONDS = 0.1
    TelegramChat.all_brands.create(brand=acme, chat_id=GROUP)
    bot_api.fail("sendMessage", 500)
    incident = file_incident()
    services.incident_claim(incident_id=incident.pk, principal=Principal.for_user(bob))
    deliver_until_done(telegram_rows(), timeout=20)
    assert len(bot_api.sent("sendMessage", chat_id=GROUP)) == 1
    assert len(bot_api.messages[GROUP]) == 1
    assert statuses(telegram_rows()) == {"sent": 2}
    assert "Claimed by bob" in next(iter(bot_api.messages[GROUP].values()))["text"]


# --- 1,000 to one group ------------------------------------------------------------------------------


def test_1000_cards_to_one_group_are_paced_all_delivered_as_edits_where_a_message_exists(
    bot_api, acme, file_incident, settings
):
    settings.TELEGRAM_RATE_PER_GROUP = "100/second"  # 20/minute, shrunk
    settings.TELEGRAM_RATE_PER_BOT = "500/second"
    incidents = [file_incident(title=f"Wave {i}") for i in range(40)]
    # Half the incidents already have their message in the group.
    for incident in incidents[:20]:
        sent = bot_api.answer(
            f"bot{bot_api.token}", "sendMessage", {"chat_id": GROUP, "text": f"old {incident.pk}"}
        )
        TelegramMessage.all_brands.create(
            chat_id=GROUP, incident=incident, message_id=sent[1]["result"]["message_id"]
        )
    bot_api.calls.clear()
    now = timezone.now()
    rows = [
        Notification(
            brand=acme,
            incident=incidents[i % 40],
            channel="telegram",
            target=str(GROUP),
            reason="escalated",
            subject="s",
            body=f"card {i} of incident {incidents[i % 40].pk}",
            payload={
                CARD: True,
                "buttons": [[{"text": "Claim", "callback_data": f"c:{incidents[i % 40].pk}"}]],
            },
            idempotency_key=uuid.uuid4(),
            next_attempt_at=now + timedelta(minutes=5),
        )
        for i in range(1000)
    ]
    Notification.all_brands.bulk_create(rows)
    ids = [row.pk for row in rows]
    started = time.time()
    deliver_until_done(ids, timeout=120)
    took = time.time() - started
    assert statuses(ids) == {"sent": 1000}
    sends, edits = bot_api.sent("sendMessage", chat_id=GROUP), bot_api.sent("editMessageText", chat_id=GROUP)
    # A first message for each incident that had none, every other card an edit.
    assert len(sends) == 20
    assert len(sends) + len(edits) == 1000
    texts = Counter(call["text"] for call in sends + edits)
    assert len(texts) == 1000 and max(texts.values()) == 1  # each card once, none twice
    assert set(TelegramMessage.all_brands.filter(chat_id=GROUP).values_list("message_id", flat=True)) == set(
        bot_api.messages[GROUP]
    )
    # Paced: never more than the group's 100 in a second (as the fake's clock sees them arrive).
    times = sorted(bot_api.times(GROUP))
    busiest = max(len([t for t in times[i:] if t - at < 0.95]) for i, at in enumerate(times))
    assert busiest <= 100, busiest
    assert took >= 9.0, took
    print(f"1,000 cards to one group at 100/second: {took:.1f} s, busiest second {busiest}")
