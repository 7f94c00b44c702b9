"""
The clock with frozen time: warnings, escalation levels, resolve alerts, exactly once.

These call the sweeper and the ETA task body directly; the same paths against a
live worker and a real broker are in test_live_clock.py.
"""

import collections
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import transaction

from crisis.models import Membership, Role
from crisis.tenancy import Principal
from incidents import clock, filing, policies, services
from incidents.models import Escalation, Incident, Notification, TimelineEvent
from tests.conftest import all_at_once, complete_required_steps, make_user

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def team(acme, alice, bob, dave, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for user in (alice, bob, dave):
        user.email = f"{user.username}@acme.test"
        user.save()
    ceo = make_user("ceo", acme, Role.VIEWER, email="ceo@acme.test")
    Membership.all_brands.filter(user=ceo).update(is_executive=True)
    return {"alice": alice, "bob": bob, "dave": dave, "ceo": ceo}


def sweep_at(moment):
    with time_machine.travel(moment, tick=False):
        return clock.sweep()


def escalations(incident):
    return list(
        Escalation.all_brands.filter(incident=incident)
        .order_by("level")
        .values_list("kind", "level", "notified")
    )


def events(incident, kind):
    return list(TimelineEvent.all_brands.filter(incident=incident, kind=kind).values_list("data", flat=True))


def sent_for(incident, reason):
    """The `recipients` an event should name: the outbox rows written for it."""
    rows = Notification.all_brands.filter(incident=incident, reason=reason).select_related("recipient")
    return [
        {"username": row.recipient.username, "channel": row.channel, "notification": row.pk}
        for row in rows.order_by("pk")
    ]


@pytest.fixture
def critical(team, file_incident):
    """A critical incident detected at T0: warning at +480 s, ack deadline at +600 s."""
    with time_machine.travel(T0, tick=False):
        return file_incident(severity="critical", title="Blocked on Instagram")


def test_timers_at_filing(critical):
    assert critical.sla_warning_at == T0 + timedelta(seconds=480)
    assert critical.next_escalation_at == critical.ack_due_at == T0 + timedelta(seconds=600)
    assert critical.resolve_escalation_at is None
    assert critical.escalation_chain["levels"][0]["roles"] == ["manager"]


def test_warning_fires_once_at_eighty_percent_to_responders(critical):
    sweep_at(T0 + timedelta(seconds=479))
    assert events(critical, "sla_warning") == []
    sweep_at(T0 + timedelta(seconds=480))
    sweep_at(T0 + timedelta(seconds=490))
    assert events(critical, "sla_warning") == [
        {"seconds_left": 120, "notified": ["bob", "dave"], "recipients": sent_for(critical, "sla_warning")}
    ]
    assert sorted(Notification.all_brands.filter(reason="sla_warning").values_list("target", flat=True)) == [
        "bob@acme.test",
        "dave@acme.test",
    ]


def test_level_one_fires_at_the_deadline_once_never_early(critical):
    sweep_at(T0 + timedelta(seconds=599))
    assert escalations(critical) == []
    for _ in range(3):
        sweep_at(T0 + timedelta(seconds=600))
    assert escalations(critical) == [("ack", 1, ["alice"])]
    assert events(critical, "escalated") == [
        {"level": 1, "notified": ["alice"], "recipients": sent_for(critical, "escalated")}
    ]
    assert [r["username"] for r in sent_for(critical, "escalated")] == ["alice"]
    critical.refresh_from_db()
    assert critical.escalation_level == 1
    assert critical.next_escalation_at == T0 + timedelta(seconds=1200)
    fired = Escalation.all_brands.get(incident=critical)
    assert fired.fired_at - fired.due_at == timedelta(0)


def test_levels_fire_in_order_with_their_delays(critical):
    sweep_at(T0 + timedelta(seconds=600))
    sweep_at(T0 + timedelta(seconds=1199))
    assert [lvl for _, lvl, _ in escalations(critical)] == [1]
    sweep_at(T0 + timedelta(seconds=1200))
    assert escalations(critical) == [("ack", 1, ["alice"]), ("ack", 2, ["ceo"])]
    critical.refresh_from_db()
    assert critical.next_escalation_at is None  # chain exhausted


def test_overdue_levels_all_fire_in_order_when_the_workers_come_back(critical):
    sweep_at(T0 + timedelta(hours=2))
    assert [lvl for _, lvl, _ in escalations(critical)] == [1, 2]
    assert [e["level"] for e in events(critical, "escalated")] == [1, 2]


def test_repeat_runs_the_chain_again(acme, alice, team, file_incident):
    policies.escalation_policy_set(
        brand=acme,
        chain={
            "levels": [
                {"after_seconds": 0, "roles": ["manager"], "users": []},
                {"after_seconds": 300, "roles": [], "users": ["ceo"]},
            ],
            "repeat": 1,
        },
    )
    with time_machine.travel(T0, tick=False):
        incident = file_incident(severity="critical")
    for seconds in (600, 900, 1200, 1500, 3000):
        sweep_at(T0 + timedelta(seconds=seconds))
    assert escalations(incident) == [
        ("ack", 1, ["alice"]),
        ("ack", 2, ["ceo"]),
        ("ack", 3, ["alice"]),
        ("ack", 4, ["ceo"]),
    ]


def test_overdue_repeats_are_not_replayed_in_a_burst(acme, alice, team, file_incident):
    """Filed long after it began: only the latest run of the chain fires, not all four."""
    policies.escalation_policy_set(
        brand=acme,
        chain={
            "levels": [
                {"after_seconds": 0, "roles": ["manager"], "users": []},
                {"after_seconds": 300, "roles": [], "users": ["ceo"]},
            ],
            "repeat": 3,
        },
    )
    with time_machine.travel(T0, tick=False):
        incident = file_incident(severity="critical")  # runs at +0/300, 600/900, … 1800/2100 s
    sweep_at(T0 + timedelta(seconds=600 + 1900))  # the 4th run's first level is overdue
    assert escalations(incident) == [("ack", 7, ["alice"])]
    sweep_at(T0 + timedelta(seconds=600 + 2100))
    assert escalations(incident) == [("ack", 7, ["alice"]), ("ack", 8, ["ceo"])]
    incident.refresh_from_db()
    assert (incident.escalation_level, incident.escalation_count) == (8, 2)
    assert incident.next_escalation_at is None


def test_claimed_incident_never_escalates(critical, bob):
    with time_machine.travel(T0 + timedelta(seconds=300), tick=False):
        services.incident_claim(incident_id=critical.pk, principal=Principal.for_user(bob))
    sweep_at(T0 + timedelta(hours=1))
    assert escalations(critical) == []
    assert events(critical, "sla_warning") == []


def test_running_incident_keeps_its_chain_snapshot(acme, critical):
    policies.escalation_policy_set(
        brand=acme, chain={"levels": [{"after_seconds": 0, "roles": ["responder"], "users": []}], "repeat": 0}
    )
    sweep_at(T0 + timedelta(seconds=600))
    assert escalations(critical) == [("ack", 1, ["alice"])]


def test_the_same_task_ten_times_gives_one_record_and_one_set_of_notifications(critical):
    with time_machine.travel(T0 + timedelta(seconds=600), tick=False):
        for _ in range(10):
            clock.fire_due_timers(critical.pk)
    assert escalations(critical) == [("ack", 1, ["alice"])]
    assert Notification.all_brands.filter(reason="escalated").count() == 1


def test_early_task_does_nothing(critical):
    with time_machine.travel(T0 + timedelta(seconds=470), tick=False):
        assert clock.fire_due_timers(critical.pk) == 0
    with time_machine.travel(T0 + timedelta(seconds=590), tick=False):
        assert clock.fire_due_timers(critical.pk) == 1  # the warning, not the escalation
    assert escalations(critical) == []


def test_resolve_overdue_alerts_managers_once(critical, bob, alice):
    with time_machine.travel(T0 + timedelta(seconds=60), tick=False):
        services.incident_claim(incident_id=critical.pk, principal=Principal.for_user(bob))
    critical.refresh_from_db()
    assert critical.resolve_escalation_at == critical.resolve_due_at == T0 + timedelta(hours=4)
    sweep_at(T0 + timedelta(hours=4, seconds=-1))
    assert escalations(critical) == []
    sweep_at(T0 + timedelta(hours=4))
    sweep_at(T0 + timedelta(hours=5))
    assert escalations(critical) == [("resolve", 1, ["alice"])]
    # Resolving and reopening does not alert again.
    with time_machine.travel(T0 + timedelta(hours=5), tick=False):
        services.incident_investigate(incident_id=critical.pk, principal=Principal.for_user(bob))
        complete_required_steps(critical, bob)
        services.incident_resolve(
            incident_id=critical.pk, principal=Principal.for_user(bob), resolution="done"
        )
        services.incident_reopen(incident_id=critical.pk, principal=Principal.for_user(bob), reason="back")
    sweep_at(T0 + timedelta(hours=6))
    assert escalations(critical) == [("resolve", 1, ["alice"])]


def test_resolved_in_time_never_alerts(critical, bob):
    with time_machine.travel(T0 + timedelta(seconds=60), tick=False):
        for action in (services.incident_claim, services.incident_investigate):
            action(incident_id=critical.pk, principal=Principal.for_user(bob))
        complete_required_steps(critical, bob)
        services.incident_resolve(
            incident_id=critical.pk, principal=Principal.for_user(bob), resolution="done"
        )
    sweep_at(T0 + timedelta(hours=10))
    assert escalations(critical) == []


def test_notifications_are_delivered_and_recorded(critical):
    from incidents import outbox

    sweep_at(T0 + timedelta(seconds=600))
    notification = Notification.all_brands.get(reason="escalated")
    assert outbox.deliver(notification.pk) == "sent"
    assert outbox.deliver(notification.pk) == "skipped"  # a duplicate task
    assert len(mail.outbox) == 1
    assert "Escalation level 1" in mail.outbox[0].subject
    assert mail.outbox[0].to == ["alice@acme.test"]
    assert events(critical, "notified")[-1]["outcome"] == "sent"


def test_a_batch_fires_set_wise_in_a_fixed_number_of_queries(
    acme, globex, mallory, team, file_incident, django_assert_max_num_queries
):
    mallory.email = "mallory@globex.test"
    mallory.save()
    with time_machine.travel(T0, tick=False):
        for i in range(30):
            file_incident(severity="critical", title=f"acme {i}")
        for i in range(10):
            file_incident(brand=globex, by=mallory, severity="critical", title=f"globex {i}")
    # 40 warnings and 40 level-1 escalations in ~50 queries (savepoints included), the
    # same for 4 or 400 incidents of two brands; row by row this took over 400.
    with django_assert_max_num_queries(60):
        assert sweep_at(T0 + timedelta(seconds=600))["fired"] == 80
    notified = collections.Counter(
        (e.incident.brand.slug, tuple(e.notified))
        for e in Escalation.all_brands.select_related("incident__brand")
    )
    assert notified == {("acme", ("alice",)): 30, ("globex", ("mallory",)): 10}
    assert sorted(
        Notification.all_brands.filter(reason="escalated").values_list("target", flat=True).distinct()
    ) == ["alice@acme.test", "mallory@globex.test"]
    assert TimelineEvent.all_brands.filter(kind="escalated").count() == 40


def test_one_bad_row_does_not_hold_up_the_rest_of_its_batch(acme, team, file_incident, caplog):
    with time_machine.travel(T0, tick=False):
        good = [file_incident(severity="critical", title=f"good {i}") for i in range(5)]
        bad = file_incident(severity="critical", title="bad")
    # A snapshot that cannot be read (say, damaged by a hand-made data fix).
    Incident.all_brands.filter(pk=bad.pk).update(
        escalation_chain={"levels": [{"roles": ["manager"]}], "repeat": 0}
    )
    result = sweep_at(T0 + timedelta(seconds=600))
    for incident in good:
        assert escalations(incident) == [("ack", 1, ["alice"])]
    assert escalations(bad) == []
    assert f"incident {bad.pk} could not be processed" in caplog.text
    assert result["fired"] == 5 * 2  # the good ones' warnings and levels; the bad one is skipped whole


def test_rows_fired_elsewhere_meanwhile_are_not_fired_again(acme, team, file_incident):
    with time_machine.travel(T0, tick=False):
        first = file_incident(severity="critical", title="first")
        second = file_incident(severity="critical", title="second")
    # Read before the ETA task fires `first`: the batch below holds a stale copy of it.
    stale = list(
        Incident.all_brands.select_related("brand").filter(pk__in=[first.pk, second.pk]).order_by("pk")
    )
    due = T0 + timedelta(seconds=600)
    with time_machine.travel(due, tick=False):
        assert clock.fire_due_timers(first.pk) == 2  # its warning and level 1
    with transaction.atomic():
        assert clock._fire(stale, due) == 2  # only the second incident's two timers
    assert escalations(first) == escalations(second) == [("ack", 1, ["alice"])]
    assert Notification.all_brands.filter(reason="escalated").count() == 2
    assert len(events(first, "sla_warning")) == len(events(second, "sla_warning")) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_three_sweepers_over_two_hundred_due_incidents(acme, alice, team):
    principal = Principal.for_user(alice)
    with time_machine.travel(T0, tick=False):
        for i in range(200):
            filing.incident_file(principal=principal, brand=acme, title=f"wave {i}", severity="critical")

    def sweeper(_n):
        with time_machine.travel(T0 + timedelta(seconds=601), tick=False):
            return clock.sweep(batch=20)["fired"]

    results = all_at_once(sweeper, range(3))
    # Each incident also had its 80 % warning due: 200 warnings + 200 level-1 escalations.
    assert sum(results) == 400
    assert Escalation.all_brands.filter(kind="ack", level=1).count() == 200
    assert TimelineEvent.all_brands.filter(kind="escalated").count() == 200
    assert Notification.all_brands.filter(reason="escalated").count() == 200
    assert Incident.all_brands.filter(escalation_level=1).count() == 200


def test_unreviewed_resolved_incident_reminds_managers_once(critical, alice, bob, settings):
    settings.REVIEW_REMINDER_SECONDS = 7 * 24 * 3600
    with time_machine.travel(T0 + timedelta(seconds=60), tick=False):
        for action in (services.incident_claim, services.incident_investigate):
            action(incident_id=critical.pk, principal=Principal.for_user(bob))
        complete_required_steps(critical, bob)
        services.incident_resolve(
            incident_id=critical.pk, principal=Principal.for_user(bob), resolution="done"
        )
    week = timedelta(days=7, seconds=60)
    sweep_at(T0 + week - timedelta(seconds=1))
    assert events(critical, "review_reminder") == []
    sweep_at(T0 + week)
    sweep_at(T0 + week + timedelta(hours=1))
    assert events(critical, "review_reminder") == [
        {"notified": ["alice"], "recipients": sent_for(critical, "review_reminder")}
    ]


def test_reviewed_in_time_is_never_reminded(critical, alice, bob):
    with time_machine.travel(T0 + timedelta(seconds=60), tick=False):
        for action in (services.incident_claim, services.incident_investigate):
            action(incident_id=critical.pk, principal=Principal.for_user(bob))
        complete_required_steps(critical, bob)
        services.incident_resolve(
            incident_id=critical.pk, principal=Principal.for_user(bob), resolution="done"
        )
        services.incident_review(
            incident_id=critical.pk,
            principal=Principal.for_user(alice),
            summary="s",
            root_cause="r",
            lessons="l",
            follow_ups=[],
        )
    sweep_at(T0 + timedelta(days=30))
    assert events(critical, "review_reminder") == []


def test_a_title_with_line_breaks_still_reaches_people_by_e_mail(team, file_incident):
    """Titles from monitoring tools carry line breaks; the subject is one line, the title is kept."""
    from incidents import outbox

    title = "Wave on VK\r\nsecond line\u2028third"
    with time_machine.travel(T0, tick=False):
        incident = file_incident(severity="critical", title=title)
    sweep_at(T0 + timedelta(seconds=600))
    notification = Notification.all_brands.get(reason="escalated")
    assert outbox.deliver(notification.pk) == "sent"
    assert mail.outbox[0].subject.endswith("Wave on VK second line third")
    assert Incident.all_brands.get(pk=incident.pk).title == title


def test_an_outbox_row_written_with_a_broken_subject_is_delivered(team, critical):
    """Rows written before subjects were made one line still go out."""
    from incidents import outbox

    sweep_at(T0 + timedelta(seconds=600))
    notification = Notification.all_brands.get(reason="escalated")
    Notification.all_brands.filter(pk=notification.pk).update(subject="[Acme] Escalation\nBlocked")
    assert outbox.deliver(notification.pk) == "sent"
    assert mail.outbox[0].subject == "[Acme] Escalation Blocked"


@pytest.fixture
def published():
    """The tasks sent to the broker during the test, as Celery's own signal reports them."""
    from celery.signals import before_task_publish

    sent = []

    def record(sender=None, headers=None, body=None, **kwargs):
        sent.append((sender, tuple(body[0]), headers.get("eta")))

    before_task_publish.connect(record, weak=False)
    yield sent
    before_task_publish.disconnect(record)


def test_a_timer_due_soon_is_published_after_commit_only(
    team, file_incident, published, django_capture_on_commit_callbacks
):
    with (
        time_machine.travel(T0, tick=False),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        soon = file_incident(severity="critical", detected_at=T0 - timedelta(seconds=595))
        later = file_incident(severity="critical")  # due in 480 s: the sweeper's, not an ETA task
        assert published == []  # nothing leaves before the commit
    assert len(callbacks) == 1
    assert published == [
        ("incidents.tasks.fire_due_timers", (soon.pk,), T0.isoformat()),  # its warning is overdue
    ]
    assert later.sla_warning_at == T0 + timedelta(seconds=480)


def test_an_escalation_publishes_delivery_of_its_notifications_after_commit(
    critical, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with time_machine.travel(T0 + timedelta(seconds=600), tick=False):
            clock.fire_due_timers(critical.pk)
        assert published == []  # nothing leaves before the commit
    ids = sorted(Notification._base_manager.values_list("pk", flat=True))  # every brand's
    assert len(ids) == 3  # the warning to bob and dave, level 1 to alice
    assert [(name, sorted(args[0])) for name, args, _eta in published] == [
        ("incidents.tasks.deliver_notifications", ids)
    ]


def test_every_notification_link_opens_the_incident_s_console_page(team, critical, client, settings):
    """E-mail bodies and webhook payloads point at the console page on the configured site."""
    from urllib.parse import urlsplit

    settings.SITE_URL = "https://desk.example.com:8300/"
    sweep_at(T0 + timedelta(seconds=480))  # the warning
    sweep_at(T0 + timedelta(seconds=600))  # level 1
    notifications = list(Notification.objects.model.all_brands.filter(incident=critical))
    assert notifications
    links = set()
    for notification in notifications:
        links.add(notification.body.rsplit("\n", 1)[-1])
        links.add(notification.payload["incident"]["url"])
    (link,) = links
    assert link == f"https://desk.example.com:8300/incidents/{critical.pk}/"
    client.force_login(team["alice"])
    page = client.get(urlsplit(link).path)
    assert page.status_code == 200
    assert critical.title in page.content.decode()
    assert notifications[0].payload["incident"]["api_url"].endswith(f"/api/v1/incidents/{critical.pk}/")
