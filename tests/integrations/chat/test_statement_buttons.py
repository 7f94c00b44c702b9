"""
A public statement's approval from Telegram (issue 23: "from chat: buttons on the message"),
against the fake Bot API: the people of the current hop get the version they are asked
about with Approve and Reject; a press runs the API's service with its rules (the hop's
people only, not the author, the version shown); Reject asks for the reason and the
reply to that question rejects. Refusals are answered with an alert and change nothing.
"""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from crisis.models import Profile
from crisis.tenancy import Principal
from incidents import clock, messages, statements
from incidents.models import Notification, Statement, StatementDecision, TimelineEvent
from integrations.chat import cards
from integrations.chat.models import TelegramRejectPrompt
from tests.conftest import statement_written
from tests.incidents.test_outbox_delivery import deliver_until_done

from .fake_bot_api import press
from .test_buttons import answers, link, send
from .test_delivery import telegram_rows

pytestmark = pytest.mark.django_db

# Two hops: the PR head (erin, by name), then legal (any executive: frank).
ROUTE = [
    {"name": "PR head", "users": ["erin"], "within_seconds": 900},
    {"name": "Legal", "roles": ["executive"], "within_seconds": 1800},
]
BODY = "We are sorry <b>for</b> the delay. Here is what happened and what we do now."
ERIN, FRANK, BOB, ALICE, MALLORY, CAROL = 6001, 6002, 6003, 6004, 6005, 6006


@pytest.fixture
def people(bot_api, acme, alice, bob, carol, mallory, erin, frank):
    """Everyone linked to their Telegram: name → the `from` of their updates."""
    ids = {"erin": ERIN, "frank": FRANK, "bob": BOB, "alice": ALICE, "mallory": MALLORY, "carol": CAROL}
    users = {"erin": erin, "frank": frank, "bob": bob, "alice": alice, "mallory": mallory, "carol": carol}
    return {name: link(users[name], ids[name]) for name in ids}


@pytest.fixture
def submitted(people, acme, bob, file_incident):
    """Bob's statement, submitted: at the PR head's hop, erin told in Telegram."""
    statements.statement_route_set(brand=acme, hops=ROUTE)
    incident = file_incident(severity="high", title="Cold coffee wave")
    statement = statement_written(incident, bob, body=BODY, submit=True)
    deliver_until_done(telegram_rows())
    return Statement.all_brands.get(pk=statement.pk)


def only_message(bot_api, chat: int) -> tuple[int, dict]:
    [(message_id, message)] = bot_api.messages[chat].items()
    return message_id, message


def callbacks(message: dict) -> list[str]:
    return [
        b.get("callback_data") or b.get("url") for row in message["buttons"]["inline_keyboard"] for b in row
    ]


def decisions(statement) -> list[tuple]:
    return list(
        StatementDecision.all_brands.filter(statement=statement)
        .exclude(kind="escalated")
        .order_by("at", "id")
        .values_list("kind", "by__username", "version", "hop", "comment")
    )


def reply(text, *, sender: dict, chat_id: int, to: int) -> dict:
    """A message answering the bot's message `to`, as Telegram sends it."""
    message = {
        "message_id": 900 + to,
        "date": int(timezone.now().timestamp()),
        "chat": {"id": chat_id, "type": "private"},
        "from": sender,
        "reply_to_message": {"message_id": to, "chat": {"id": chat_id}, "text": "…"},
    }
    if text is not None:
        message["text"] = text
    return {"message": message}


def test_the_hop_gets_the_version_with_buttons_and_approve_moves_the_route_on(
    bot_api, people, submitted, frank
):
    incident, sid = submitted.incident, submitted.pk
    message_id, message = only_message(bot_api, ERIN)
    assert message["text"].startswith("A statement awaits your approval (PR head)")
    assert f"Statement #{sid}, version 1 · VK" in message["text"] and BODY in message["text"]
    assert callbacks(message) == [
        f"sa:{incident.pk}:{sid}:1",
        f"sr:{incident.pk}:{sid}:1",
        f"{messages.incident_link(incident)}#statement-{sid}",
    ]
    assert FRANK not in bot_api.messages  # legal's hop is not current yet

    send(press(f"sa:{incident.pk}:{sid}:1", sender=people["erin"], chat_id=ERIN, message_id=message_id))
    [answer] = answers(bot_api)
    assert (answer["text"], answer["show_alert"]) == ("Approved.", False)
    submitted.refresh_from_db()
    assert (submitted.state, submitted.hop) == ("in_approval", 1)
    assert decisions(submitted) == [("approved", "erin", 1, 0, "")]
    # The pressed message says who decided and offers no second decision.
    edited = bot_api.messages[ERIN][message_id]
    assert "Approved by erin." in edited["text"] and BODY in edited["text"]
    assert all(not c.startswith(("sa:", "sr:")) for c in callbacks(edited))

    # Legal is told next, in their own language, and approves the same version.
    Profile.objects.update_or_create(
        user=frank,
        defaults={"language": "ru"},
    )
    deliver_until_done(telegram_rows())
    legal_id, legal = only_message(bot_api, FRANK)
    assert legal["text"].startswith("Заявление ждёт вашего согласования (Legal)")
    assert [b["text"] for b in legal["buttons"]["inline_keyboard"][0]] == ["Утвердить", "Отклонить"]
    send(press(f"sa:{incident.pk}:{sid}:1", sender=people["frank"], chat_id=FRANK, message_id=legal_id))
    submitted.refresh_from_db()
    assert submitted.state == "approved"
    assert [d[:2] for d in decisions(submitted)] == [("approved", "erin"), ("approved", "frank")]
    events = TimelineEvent.all_brands.filter(incident=incident, kind="statement_approved").order_by(
        "at", "id"
    )
    assert [e.actor.username for e in events] == ["erin", "frank"]


def test_reject_asks_for_the_reason_and_the_reply_rejects_with_it(bot_api, people, submitted):
    incident, sid = submitted.incident, submitted.pk
    message_id, _message = only_message(bot_api, ERIN)
    send(press(f"sr:{incident.pk}:{sid}:1", sender=people["erin"], chat_id=ERIN, message_id=message_id))
    # Nothing is decided by the press: the bot asks why, as a reply to the statement's message.
    submitted.refresh_from_db()
    assert submitted.state == "in_approval" and decisions(submitted) == []
    [answer] = answers(bot_api)
    assert answer["text"] == "Reply with the reason for rejecting." and not answer["show_alert"]
    [question] = [m for m in bot_api.sent("sendMessage", chat_id=ERIN) if "force_reply" in str(m)]
    assert f"statement #{sid}, version 1" in question["text"]
    assert question["reply_markup"]["force_reply"] is True
    assert question["reply_parameters"]["message_id"] == message_id
    question_id = max(bot_api.messages[ERIN])

    # A message that answers nothing, and an answer without text, decide nothing.
    send(reply("hello", sender=people["erin"], chat_id=ERIN, to=message_id))
    send(reply(None, sender=people["erin"], chat_id=ERIN, to=question_id))
    assert "Send the reason as text" in bot_api.sent("sendMessage", chat_id=ERIN)[-1]["text"]
    assert decisions(submitted) == []

    reason = "Legal has not seen the refund figures."
    update = reply(reason, sender=people["erin"], chat_id=ERIN, to=question_id)
    send(update)
    submitted.refresh_from_db()
    assert submitted.state == "draft"
    assert decisions(submitted) == [("rejected", "erin", 1, 0, reason)]
    assert "Rejected: the statement is a draft again" in bot_api.sent("sendMessage", chat_id=ERIN)[-1]["text"]
    edited = bot_api.messages[ERIN][message_id]
    assert f"Rejected by erin: {reason}" in edited["text"]
    assert all(not c.startswith(("sa:", "sr:")) for c in callbacks(edited))
    # The author is told why, as when rejected in the console or the API.
    told = Notification.all_brands.get(incident=incident, reason="statement_rejected")
    assert told.recipient.username == "bob"
    deliver_until_done(telegram_rows())
    _id, to_author = only_message(bot_api, BOB)
    assert to_author["text"].startswith("Your statement was rejected")
    assert f"Rejected by erin: {reason}" in to_author["text"]
    assert TelegramRejectPrompt.all_brands.count() == 0

    # Telegram delivering the same reply again rejects nothing twice and says nothing more.
    sent_before = len(bot_api.sent())
    send(update)
    assert len(decisions(submitted)) == 1 and len(bot_api.sent()) == sent_before


@pytest.mark.parametrize("who", ["outside the hop", "viewer", "other brand", "author", "edited since"])
def test_a_press_without_the_right_is_refused_and_changes_nothing(bot_api, people, submitted, bob, erin, who):
    incident, sid = submitted.incident, submitted.pk
    sender = {"outside the hop": "frank", "viewer": "carol", "other brand": "mallory"}.get(who, "erin")
    if who == "author":
        # Erin edits the statement and submits it again: the version at hand is hers.
        erin = Principal.for_user(erin)
        statements.statement_edit(
            incident_id=incident.pk, statement_id=sid, principal=erin, channels=["vk"], body=BODY + " Edited."
        )
    if who == "edited since":
        statements.statement_edit(
            incident_id=incident.pk,
            statement_id=sid,
            principal=Principal.for_user(bob),
            channels=["vk"],
            body=BODY + " v2",
        )
    before = Statement.all_brands.get(pk=sid)
    shown = 2 if who == "author" else 1
    for action in ("sa", "sr"):
        send(
            press(
                f"{action}:{incident.pk}:{sid}:{shown}", sender=people[sender], chat_id=ERIN, message_id=101
            )
        )
    after = Statement.all_brands.get(pk=sid)
    assert (after.state, after.hop, after.version, after.round) == (
        before.state,
        0,
        before.version,
        before.round,
    )
    assert decisions(submitted) == []
    assert TelegramRejectPrompt.all_brands.count() == 0
    assert bot_api.sent("editMessageText") == []
    refusals = answers(bot_api)
    assert len(refusals) == 2 and all(a["show_alert"] for a in refusals)
    expected = {
        "outside the hop": "Only a person of the current hop can decide it.",
        "viewer": "Only a person of the current hop can decide it.",
        "other brand": "You cannot act on this statement.",
        "author": "The author of a statement cannot approve it.",
        "edited since": "The statement was edited after the version you read: version 2 is current.",
    }[who]
    assert {a["text"] for a in refusals} == {expected}


def test_an_edit_after_the_question_makes_the_reason_refused(bot_api, people, submitted, bob):
    incident, sid = submitted.incident, submitted.pk
    message_id, _message = only_message(bot_api, ERIN)
    send(press(f"sr:{incident.pk}:{sid}:1", sender=people["erin"], chat_id=ERIN, message_id=message_id))
    question_id = max(bot_api.messages[ERIN])
    statements.statement_edit(
        incident_id=incident.pk,
        statement_id=sid,
        principal=Principal.for_user(bob),
        channels=["vk"],
        body="New",
    )
    send(reply("No.", sender=people["erin"], chat_id=ERIN, to=question_id))
    assert "version 2 is current" in bot_api.sent("sendMessage", chat_id=ERIN)[-1]["text"]
    assert decisions(submitted) == [] and Statement.all_brands.get(pk=sid).state == "in_approval"
    assert TelegramRejectPrompt.all_brands.count() == 0  # the question is spent


def test_the_question_lapses(bot_api, people, submitted, settings):
    incident, sid = submitted.incident, submitted.pk
    message_id, _message = only_message(bot_api, ERIN)
    send(press(f"sr:{incident.pk}:{sid}:1", sender=people["erin"], chat_id=ERIN, message_id=message_id))
    question_id = max(bot_api.messages[ERIN])
    # Someone else answering the question (another person's chat, forwarded) is not the asker.
    send(reply("Fine by me", sender=people["frank"], chat_id=ERIN, to=question_id))
    assert TelegramRejectPrompt.all_brands.count() == 1
    later = timezone.now() + timedelta(seconds=settings.TELEGRAM_REJECT_PROMPT_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        send(reply("Too late", sender=people["erin"], chat_id=ERIN, to=question_id))
    assert "lapsed" in bot_api.sent("sendMessage", chat_id=ERIN)[-1]["text"]
    assert decisions(submitted) == [] and Statement.all_brands.get(pk=sid).state == "in_approval"


def test_a_stuck_hop_reaches_the_managers_as_a_statement_not_as_an_unclaimed_incident(
    bot_api, people, submitted
):
    """The clock's escalation of a hop is an `escalated` row; its message still names the statement."""
    with time_machine.travel(submitted.hop_due_at + timedelta(seconds=1), tick=False):
        clock.sweep(plan_ahead=False)
    deliver_until_done(telegram_rows())
    # (The incident's own acknowledge deadline has passed too: its escalation is another message.)
    [message] = [m for m in bot_api.messages[ALICE].values() if "statement" in m["text"]]
    assert message["text"].startswith("A statement is stuck in approval (PR head)")
    assert "nobody has claimed" not in message["text"] and BODY in message["text"]
    # Alice is a manager, not of the hop: she is shown the statement, not asked to decide it.
    assert [c for c in callbacks(message) if c.startswith(("sa:", "sr:"))] == []


@pytest.mark.parametrize(
    "data",
    [
        "sa:1:2",
        "sa:1:2:3:4",
        "sa:1:x:3",
        "sr::2:3",
        "sa:1:2:³",
        "c:1:2",
        "zz:1:2:3",
        "sa:1:2:" + "9" * 19,
        "",
    ],
)
def test_button_data_we_did_not_write_is_not_ours(data):
    assert cards.parse_callback(data) is None


def test_button_data_round_trips():
    for action, numbers in [
        (cards.APPROVE, (7, 8, 9)),
        (cards.REJECT, (10**17, 10**17, 10**8)),
        (cards.CLAIM, (5,)),
    ]:
        data = cards.callback_data(action, *numbers)
        assert len(data.encode()) <= 64
        assert cards.parse_callback(data) == cards.Press(action, *numbers)
