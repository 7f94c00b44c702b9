"""
Buttons pressed in Telegram run the desk's services with the presser's role and the
API's race rules; refusals are answered with an alert and change nothing.
"""

import pytest
from rest_framework.test import APIClient

from crisis.models import Role
from crisis.tenancy import Principal
from incidents import services
from incidents.models import ContactChannel, Incident, TimelineEvent
from integrations.chat.models import TelegramAccount, TelegramChat, TelegramMessage
from tests.conftest import all_at_once, make_user
from tests.incidents.test_outbox_delivery import deliver_until_done

from .fake_bot_api import SECRET, press, user
from .test_delivery import GROUP, telegram_rows

WEBHOOK = "/api/v1/integrations/telegram/webhook/"


def link(person, telegram_id: int) -> dict:
    TelegramAccount.objects.create(user=person, telegram_user_id=telegram_id)
    ContactChannel.objects.create(user=person, kind="telegram", target=str(telegram_id))
    return user(telegram_id, person.get_username())


def send(update: dict):
    answer = APIClient().post(WEBHOOK, update, format="json", HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=SECRET)
    assert answer.status_code == 200, answer.content
    return answer


@pytest.fixture
def card(bot_api, acme, file_incident):
    """An incident posted to acme's group chat: (incident, its message id there)."""
    TelegramChat.all_brands.create(brand=acme, chat_id=GROUP, title="room")
    incident = file_incident(title="Boycott call")
    deliver_until_done(telegram_rows())
    return incident, TelegramMessage.all_brands.get(chat_id=GROUP, incident=incident).message_id


def answers(bot_api) -> list[dict]:
    return bot_api.sent("answerCallbackQuery")


@pytest.mark.django_db
def test_pressing_claim_claims_and_the_message_shows_who(bot_api, card, bob):
    incident, message_id = card
    sender = link(bob, 5001)
    send(press(f"c:{incident.pk}", sender=sender, chat_id=GROUP, message_id=message_id))
    incident.refresh_from_db()
    assert (incident.state, incident.assignee) == ("acknowledged", bob)
    claimed = TimelineEvent.all_brands.get(incident=incident, kind="claimed")
    assert claimed.actor == bob
    [answer] = answers(bot_api)
    assert answer["text"] == "Claimed." and not answer["show_alert"]
    [edit] = bot_api.sent("editMessageText", chat_id=GROUP)
    assert edit["message_id"] == message_id and "Claimed by bob" in edit["text"]
    # The outbox's card of the claim edits the same message, not a new one.
    deliver_until_done(telegram_rows())
    assert len(bot_api.messages[GROUP]) == 1
    assert "Claimed by bob" in bot_api.messages[GROUP][message_id]["text"]
    # Then Investigate, by the assignee.
    send(press(f"i:{incident.pk}", sender=sender, chat_id=GROUP, message_id=message_id))
    incident.refresh_from_db()
    assert incident.state == "investigated"


@pytest.mark.django_db
def test_a_press_in_a_private_chat_edits_that_message(bot_api, file_incident, bob):
    incident = file_incident()
    sender = link(bob, 5001)
    sent = bot_api.answer(f"bot{bot_api.token}", "sendMessage", {"chat_id": 5001, "text": "escalation"})[1]
    send(press(f"c:{incident.pk}", sender=sender, chat_id=5001, message_id=sent["result"]["message_id"]))
    assert "Claimed by bob" in bot_api.messages[5001][sent["result"]["message_id"]]["text"]


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["unlinked", "viewer", "other brand", "not ours"])
def test_a_press_by_anyone_without_the_right_is_refused_and_changes_nothing(
    bot_api, card, carol, mallory, who
):
    incident, message_id = card
    sender = {"unlinked": lambda: user(9999), "viewer": lambda: link(carol, 5003)}.get(
        who, lambda: link(mallory, 5004)
    )()
    data = "x:1" if who == "not ours" else f"c:{incident.pk}"
    before = TimelineEvent.all_brands.filter(incident=incident).count()
    send(press(data, sender=sender, chat_id=GROUP, message_id=message_id))
    incident.refresh_from_db()
    assert (incident.state, incident.assignee_id) == ("detected", None)
    assert TimelineEvent.all_brands.filter(incident=incident).count() == before
    assert bot_api.sent("editMessageText") == []
    [answer] = answers(bot_api)
    assert answer["show_alert"] is True
    expected = {
        "unlinked": "not linked",
        "viewer": "role",
        "other brand": "cannot act on this incident",
        "not ours": "not one of the desk's",
    }[who]
    assert expected in answer["text"]


@pytest.mark.django_db
def test_a_claim_of_a_claimed_incident_tells_who_won(bot_api, card, bob, dave):
    incident, message_id = card
    services.incident_claim(incident_id=incident.pk, principal=Principal.for_user(bob))
    send(press(f"c:{incident.pk}", sender=link(dave, 5002), chat_id=GROUP, message_id=message_id))
    [answer] = answers(bot_api)
    assert (answer["text"], answer["show_alert"]) == ("Already claimed by bob.", True)
    assert Incident.all_brands.get(pk=incident.pk).assignee.username == "bob"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_five_people_pressing_claim_at_once_one_claims_four_are_told_who_won(bot_api, acme, file_incident):
    TelegramChat.all_brands.create(brand=acme, chat_id=GROUP)
    incident = file_incident()
    deliver_until_done(telegram_rows())
    message_id = TelegramMessage.all_brands.get(incident=incident).message_id
    people = [make_user(f"responder{i}", acme, Role.RESPONDER) for i in range(5)]
    senders = [link(person, 6000 + i) for i, person in enumerate(people)]
    all_at_once(
        lambda s: send(press(f"c:{incident.pk}", sender=s, chat_id=GROUP, message_id=message_id)), senders
    )
    incident.refresh_from_db()
    assert incident.state == "acknowledged"
    assert TimelineEvent.all_brands.filter(incident=incident, kind="claimed").count() == 1
    winner = incident.assignee.username
    got = sorted((a["text"], a["show_alert"]) for a in answers(bot_api))
    assert got == sorted([("Claimed.", False)] + [(f"Already claimed by {winner}.", True)] * 4)
    edits = bot_api.sent("editMessageText", chat_id=GROUP)
    assert len(edits) == 1 and f"Claimed by {winner}" in edits[0]["text"]
