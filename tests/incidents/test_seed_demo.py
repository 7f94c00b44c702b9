"""
The demo `make run` seeds: its escalations reach people. Through the real clock (the
sweeper) and outbox (delivery through Django's file backend, the embedded default), with
frozen time: level 1 e-mails the manager a minute after seeding, level 2 the director
(the brand's executive) through their own channel ten minutes later, and nobody is
reported unreached.
"""

import email
import email.policy
import io
import os
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.management import call_command

from crisis.models import Brand
from incidents import clock, outbox
from incidents.models import ContactChannel, Escalation, Incident, Notification, TimelineEvent

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def seed(at=T0) -> str:
    out = io.StringIO()
    with time_machine.travel(at, tick=False):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def deliver_everything(at):
    with time_machine.travel(at, tick=False):
        return [
            outbox.deliver(pk)
            for pk in Notification.all_brands.filter(status="pending").values_list("pk", flat=True)
        ]


def mails(folder) -> list[tuple[str, str, str]]:
    """(to, subject, body) of each e-mail Django's file backend wrote into `folder`."""
    found = []
    for path in sorted(folder.iterdir()):
        for text in path.read_text().split("\n" + "-" * 79 + "\n"):
            if text.strip():
                message = email.message_from_string(text, policy=email.policy.default)
                found.append((message["To"], str(message["Subject"]), message.get_content()))
    return found


@pytest.fixture
def mailbox(settings, tmp_path):
    """The embedded default's backend, writing into a folder of this test's."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    return tmp_path


def test_an_escalation_in_the_demo_reaches_the_manager_then_the_director(db, mailbox):
    printed = seed()
    assert "director / crisis-director" in printed and "manager / crisis-manager" in printed
    assert f"written to {mailbox}/" in printed  # where the demo's people read their mail
    incident = Incident.all_brands.get(brand__slug="demo")
    assert incident.ack_due_at == T0 + timedelta(minutes=1)  # went public 14 minutes before seeding

    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        clock.sweep(plan_ahead=False)
    assert "sent" in deliver_everything(T0 + timedelta(minutes=1, seconds=5))
    with time_machine.travel(T0 + timedelta(minutes=11), tick=False):
        clock.sweep(plan_ahead=False)
    assert "sent" in deliver_everything(T0 + timedelta(minutes=11, seconds=5))

    fired = list(Escalation.all_brands.filter(incident=incident).order_by("level"))
    assert [(e.level, e.notified) for e in fired] == [(1, ["manager"]), (2, ["director"])]
    events = TimelineEvent.all_brands.filter(incident=incident, kind="escalated").order_by("id")
    assert [e.data.get("nobody_reached") for e in events] == [None, None]
    assert [[(r["username"], r["channel"]) for r in e.data["recipients"]] for e in events] == [
        [("manager", "email")],
        [("director", "email")],
    ]
    assert set(Notification.all_brands.filter(reason="escalated").values_list("status", flat=True)) == {
        "sent"
    }
    escalations = [(to, subject) for to, subject, _body in mails(mailbox) if "Escalation level" in subject]
    assert escalations == [
        ("manager@demo-coffee.example", f"[Demo Coffee Co.] Escalation level 1: {incident.title}"),
        # The director's own channel, not the account's address.
        ("director.phone@demo-coffee.example", f"[Demo Coffee Co.] Escalation level 2: {incident.title}"),
    ]
    assert all(f"/incidents/{incident.pk}/" in body for _to, _subject, body in mails(mailbox))


def test_seeding_again_changes_nothing(db, mailbox):
    seed()
    seed(T0 + timedelta(hours=1))
    brand = Brand.objects.get(slug="demo")
    assert Incident.all_brands.filter(brand=brand).count() == 1
    assert ContactChannel.objects.count() == 1
    executives = brand.memberships.filter(is_executive=True).values_list("user__username", flat=True)
    assert list(executives) == ["director"]


@pytest.mark.skipif("EMAIL_URL" in os.environ, reason="EMAIL_URL chooses another backend")
def test_without_email_url_mail_lands_under_var_mail():
    """What config/settings.py chooses for the embedded default (tests themselves use locmem)."""
    mail_folder = str(django_settings.VAR_DIR / "mail")
    assert mail_folder == django_settings.EMAIL_FILE_PATH
