"""
The timeline as people read it (messages.timeline_line, selectors.timeline_lines): who did
what, which level, whom an alert reached through which channel and whether it arrived;
notes and the resolution in it; no raw codes, in English or in Russian.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import translation

from crisis.models import Membership, Role
from crisis.tenancy import Principal
from incidents import clock, messages, outbox, policies, selectors, services
from incidents.models import EventKind, Notification, TimelineEvent
from tests.conftest import complete_required_steps, make_user

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@dataclass
class Event:
    """The fields of a TimelineEvent the words are made of."""

    kind: str
    data: dict
    actor_label: str = "system"
    at: datetime = T0


def said(event, notifications=None, language="en") -> messages.TimelineLine:
    with translation.override(language):
        return messages.timeline_line(event, notifications or {})


NOBODY = {
    "level": 2,
    "notified": ["alice"],
    "recipients": [{"username": "alice", "channel": "email", "notification": 7}],
    "nobody_reached": {
        "reason": "no_such_member",
        "roles": ["executive"],
        "users": [],
        "unreachable": [],
        "instead": ["alice"],
    },
}


@pytest.mark.parametrize(
    "language,title,text,alarm,delivery",
    [
        (
            "en",
            "Escalation, level 2",
            "Not acknowledged in time.",
            "Level 2 reached no one: no executive in this brand. "
            "The brand's managers were told instead: alice.",
            ("alice", "e-mail", "delivered", "sent"),
        ),
        (
            "ru",
            "Эскалация, уровень 2",
            "Не принят вовремя.",
            "Уровень 2 не дошёл ни до кого: в бренде нет ключевого коммуникатора. "
            "Вместо этого оповещены руководители бренда: alice.",
            ("alice", "электронная почта", "доставлено", "sent"),
        ),
    ],
)
def test_an_escalation_that_reached_nobody(language, title, text, alarm, delivery):
    line = said(Event(EventKind.ESCALATED, NOBODY), {7: {"status": "sent", "attempts": 1}}, language)
    assert (line.title, line.text, line.alarm) == (title, text, alarm)
    assert [(d.who, d.channel, d.status, d.state) for d in line.deliveries] == [delivery]
    assert line.actor == ("Crisis Desk" if language == "en" else "Кризисный пульт")


@pytest.mark.parametrize(
    "why,english,russian",
    [
        (
            {"reason": "no_such_member", "roles": ["responder"], "users": []},
            "no responder in this brand",
            "в бренде нет дежурного",
        ),
        (
            {"reason": "no_such_member", "roles": [], "users": ["ceo"]},
            "ceo is not a member of this brand",
            "ceo — не участник этого бренда",
        ),
        (
            {"reason": "no_such_member", "roles": ["executive", "viewer"], "users": ["ceo"]},
            "nobody in this brand holds these roles or names (Executive, Viewer, ceo)",
            "в бренде нет никого с этими ролями или именами (Ключевой коммуникатор, Наблюдатель, ceo)",
        ),
        (
            {"reason": "no_channel_or_email", "roles": ["executive"], "users": [], "unreachable": ["ceo"]},
            "ceo: no e-mail and no notification channel",
            "ceo: нет ни электронной почты, ни канала оповещений",
        ),
    ],
)
def test_each_reason_reads_as_a_sentence(why, english, russian):
    for language, expected in (("en", english), ("ru", russian)):
        with translation.override(language):
            assert messages.nobody_reached_reason(why) == expected


def test_when_no_manager_could_be_told_either():
    why = {"reason": "no_such_member", "roles": ["executive"], "users": [], "instead": []}
    assert messages.nobody_reached_text(why, level=2) == (
        "Level 2 reached no one: no executive in this brand. "
        "No manager could be told instead: nobody heard of it."
    )
    with translation.override("ru"):
        assert messages.nobody_reached_text(why, level=2, ahead=True) == (
            "Уровень 2 сейчас не дошёл бы ни до кого: в бренде нет ключевого коммуникатора. "
            "Руководителей тоже не удалось бы оповестить: никто не узнал бы об этом."
        )


@pytest.mark.parametrize(
    "row,english,russian,state",
    [
        ({"status": "pending", "attempts": 0}, "sending", "отправляется", "pending"),
        (
            {"status": "pending", "attempts": 2},
            "not delivered yet: retrying after 2 attempts",
            "пока не доставлено: попыток 2, пробуем снова",
            "pending",
        ),
        (
            {"status": "failed", "attempts": 8},
            "not delivered: gave up after 8 attempts",
            "не доставлено: попыток было 8, больше не пробуем",
            "failed",
        ),
    ],
)
def test_delivery_as_the_outbox_knows_it(row, english, russian, state):
    for language, expected in (("en", english), ("ru", russian)):
        (delivery,) = said(Event(EventKind.ESCALATED, NOBODY), {7: row}, language).deliveries
        assert (delivery.status, delivery.state) == (expected, state)


@pytest.mark.parametrize(
    "event,english,russian",
    [
        (
            Event("claimed", {"ack_seconds": 252, "ack_breached": False}, "bob"),
            ("Claimed", "4 min 12 s after detection, in time.", ""),
            ("Взят в работу", "Через 4 мин 12 с после обнаружения, в срок.", ""),
        ),
        (
            Event("step_completed", {"title": "Apologise", "note": "Posted at 12:10", "late": True}, "bob"),
            ("Step completed", "“Apologise”, late.", "Posted at 12:10"),
            ("Шаг выполнен", "«Apologise», с опозданием.", "Posted at 12:10"),
        ),
        (
            Event("resolved", {"resolution": "Refunds issued"}, "bob"),
            ("Resolved", "", "Refunds issued"),
            ("Решён", "", "Refunds issued"),
        ),
        (
            Event("reassigned", {"from": "bob", "to": "dave"}, "alice"),
            ("Reassigned", "From bob to dave.", ""),
            ("Передан", "От bob к dave.", ""),
        ),
        (
            Event("sla_warning", {"seconds_left": 120, "notified": [], "recipients": []}),
            ("SLA warning", "Not claimed yet: 2 min left to acknowledge.", ""),
            ("Предупреждение SLA", "Ещё не взят в работу: до срока ответа 2 мин.", ""),
        ),
        (
            Event(
                "created", {"severity": "high", "category": "fake_news", "channel": "vk", "playbook": "Fakes"}
            ),
            ("Created", "High · Fake story · VK · playbook “Fakes”", ""),
            ("Создан", "Высокий · Фейковая новость · VK · плейбук «Fakes»", ""),
        ),
        (
            Event("escalated", {"level": None, "reason": "resolve_overdue", "notified": ["alice"]}),
            ("Not resolved in time", "The brand's managers are alerted.", ""),
            ("Не решён вовремя", "Руководители бренда оповещены.", ""),
        ),
        (
            Event("comment", {"body": "Posting the apology"}, "key:youscan"),
            ("Comment", "", "Posting the apology"),
            ("Комментарий", "", "Posting the apology"),
        ),
    ],
)
def test_each_kind_of_event_in_words(event, english, russian):
    for language, (title, text, quote) in (("en", english), ("ru", russian)):
        line = said(event, language=language)
        assert (line.title, line.text, line.quote) == (title, text, quote)


def test_who_acted():
    assert messages.actor_name("bob") == "bob"
    assert messages.actor_name("system") == "Crisis Desk"
    with translation.override("ru"):
        assert messages.actor_name("key:youscan") == "ключ интеграции «youscan»"


def test_an_alert_for_people_without_a_way_to_reach_them_says_so():
    line = said(Event("sla_warning", {"seconds_left": 60, "notified": ["bob", "dave"], "recipients": []}))
    assert line.notice == "Not reached (no e-mail and no notification channel): bob, dave."


# --- Through the clock, the outbox and the incident page ---------------------------------


@pytest.fixture
def story(acme, alice, bob, settings):
    """
    A critical incident whose level 2 names executives (there are none): both levels fire,
    level 1's e-mail to alice is delivered, then bob claims, comments, ticks off the
    checklist with a note and resolves.
    """
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    alice.email = "alice@acme.test"
    alice.save()
    policies.escalation_policy_set(
        brand=acme,
        chain={
            "levels": [
                {"after_seconds": 0, "roles": ["manager"], "users": []},
                {"after_seconds": 60, "roles": ["executive"], "users": []},
            ],
            "repeat": 0,
        },
    )
    with time_machine.travel(T0, tick=False):
        incident = services_file(acme, alice)
    with time_machine.travel(T0 + timedelta(seconds=600), tick=False):
        clock.sweep(plan_ahead=False)
        first = Notification.all_brands.filter(incident=incident, reason="escalated").order_by("pk").first()
        outbox.deliver(first.pk)
    with time_machine.travel(T0 + timedelta(seconds=700), tick=False):
        clock.sweep(plan_ahead=False)
    with time_machine.travel(T0 + timedelta(seconds=800), tick=False):
        principal = Principal.for_user(bob)
        services.incident_claim(incident_id=incident.pk, principal=principal)
        services.incident_comment(incident_id=incident.pk, principal=principal, body="Apology posted in VK")
        services.incident_investigate(incident_id=incident.pk, principal=principal)
        complete_required_steps(incident, bob)
        services.incident_resolve(incident_id=incident.pk, principal=principal, resolution="Refunds issued")
    return incident


def services_file(acme, alice):
    from incidents import filing

    return filing.incident_file(
        principal=Principal.for_user(alice),
        brand=acme,
        title="Account blocked on Instagram",
        severity="critical",
        category="platform_block",
        channel="instagram",
    ).incident


def page_text(client, incident, language) -> str:
    html = client.get(f"/incidents/{incident.pk}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    timeline = re.search(r'<ol class="timeline".*?</ol>', html, re.S).group(0)
    return " ".join(re.sub(r"<[^>]+>", " ", timeline).split()).replace("&#x27;", "'")


RAW_CODES = re.compile(
    r"\b(no_such_member|no_channel_or_email|nobody_reached|escalated|sla_warning|step_completed|"
    r"step_overdue|resolve_overdue|ack_breached|notified|recipients|email|webhook|apprise|system|"
    r"pending|retry)\b"
)


@pytest.mark.parametrize(
    "language,expected",
    [
        (
            "en",
            [
                "Escalation, level 1 Crisis Desk Not acknowledged in time. alice · e-mail: delivered",
                "Escalation, level 2 Crisis Desk Not acknowledged in time. Level 2 reached no one: "
                "no executive in this brand. The brand's managers were told instead: alice. "
                "alice · e-mail: sending",
                "Claimed bob 13 min 20 s after detection, past the deadline.",
                "Comment bob Apology posted in VK",
                "Resolved bob Refunds issued",
                "Step completed bob",
            ],
        ),
        (
            "ru",
            [
                "Эскалация, уровень 1 Кризисный пульт Не принят вовремя. "
                "alice · электронная почта: доставлено",
                "Эскалация, уровень 2 Кризисный пульт Не принят вовремя. Уровень 2 не дошёл ни до кого: "
                "в бренде нет ключевого коммуникатора. Вместо этого оповещены руководители бренда: alice. "
                "alice · электронная почта: отправляется",
                "Взят в работу bob Через 13 мин 20 с после обнаружения, позже срока.",
                "Комментарий bob Apology posted in VK",
                "Решён bob Refunds issued",
                "Шаг выполнен bob",
            ],
        ),
    ],
)
def test_the_incident_page_tells_the_story(story, alice, language, expected):
    client = Client()
    client.force_login(alice)
    text = page_text(client, story, language)
    for sentence in expected:
        assert sentence in text, text
    assert RAW_CODES.findall(text) == []
    # The delivered attempt is folded into its escalation's line, not a line of its own.
    assert "Notified" not in text and "Оповещение " not in text


def test_the_timeline_reads_the_outbox_once_however_long(story, alice, bob, django_assert_max_num_queries):
    principal = Principal.for_user(bob)
    for i in range(30):
        services.incident_comment(incident_id=story.pk, principal=principal, body=f"note {i}")
    events = list(TimelineEvent.all_brands.filter(incident=story).order_by("at", "id"))
    with django_assert_max_num_queries(1):
        lines = selectors.timeline_lines(story, events)
    assert len(lines) == len(events) - 1  # the one delivery attempt is folded into its escalation


def test_the_page_says_loudly_that_a_level_reached_no_one(story, alice, acme):
    client = Client()
    client.force_login(alice)
    html = client.get(f"/incidents/{story.pk}/").content.decode().replace("&#x27;", "'")
    warnings = re.search(r'<section class="reach-warnings".*?</section>', html, re.S).group(0)
    assert "Level 2 reached no one: no executive in this brand." in warnings
    # An executive who joins later does not change what happened.
    ceo = make_user("ceo", acme, Role.VIEWER, email="ceo@acme.test")
    Membership.all_brands.filter(user=ceo).update(is_executive=True)
    assert "Level 2 reached no one" in client.get(f"/incidents/{story.pk}/").content.decode()
