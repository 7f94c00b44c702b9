"""
Escalation to on-call schedules (API.md: a level may name `schedules`): at the frozen
moment a level fires, the clock asks who is on call then, tells exactly that person,
and records them; with nobody on call, API.md's one rule tells the managers instead.

acme: alice (manager), bob and dave (responders), carol (viewer). The schedule "Nights"
hands off daily at 09:00 Berlin time: bob from 1 June 09:00, dave from 2 June 09:00, …
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crisis import oncall
from crisis.models import Role, Schedule
from crisis.tenancy import Principal
from incidents import clock, messages, policies, reach, selectors
from incidents.models import Escalation, Notification, TimelineEvent
from playbooks.models import ChecklistStep
from tests.conftest import make_user

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # 14:00 in Berlin: bob's shift
DEADLINE = T0 + timedelta(seconds=600)  # critical: ten minutes to acknowledge
ROTATION_START = datetime(2026, 6, 1, 7, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def team(alice, bob, dave, carol):
    for person in (alice, bob, dave, carol):
        person.email = f"{person.username}@acme.test"
        person.save()
    return alice, bob, dave


def layer(users, **changes) -> dict:
    return {
        "name": "Rotation",
        "users": users,
        "start": ROTATION_START,
        "shift": {"every": 1, "unit": "days"},
        "restrictions": [],
        **changes,
    }


@pytest.fixture
def nights(acme, team) -> Schedule:
    return oncall.schedule_create(
        brand=acme, name="Nights", time_zone="Europe/Berlin", layers=[layer(["bob", "dave"])]
    )


def schedule_level(*schedules, **other) -> dict:
    return {"after_seconds": 0, "roles": [], "users": [], "schedules": [s.pk for s in schedules], **other}


def file_and_fire(acme, file_incident, level: dict, *, fire_at=DEADLINE, filed_at=T0):
    policies.escalation_policy_set(brand=acme, chain={"levels": [level], "repeat": 0})
    with time_machine.travel(filed_at, tick=False):
        incident = file_incident(severity="critical", title="Account blocked")
    with time_machine.travel(fire_at, tick=False):
        clock.sweep(plan_ahead=False)
    return incident


def escalated(incident) -> dict:
    return TimelineEvent.all_brands.get(incident=incident, kind="escalated").data


def told(incident) -> list[str]:
    rows = Notification.all_brands.filter(incident=incident, reason="escalated").order_by("pk")
    return [row.recipient.username for row in rows]


def test_the_level_tells_exactly_the_person_on_call_and_records_them(acme, nights, file_incident):
    incident = file_and_fire(acme, file_incident, schedule_level(nights))
    assert told(incident) == ["bob"]
    data = escalated(incident)
    assert data["on_call"] == [{"schedule": nights.pk, "name": "Nights", "users": ["bob"]}]
    assert data["notified"] == ["bob"]
    assert "nobody_reached" not in data
    assert Escalation.all_brands.get(incident=incident).notified == ["bob"]


def test_the_person_on_call_is_who_is_on_call_when_the_level_fires_not_at_filing(acme, nights, file_incident):
    """Filed on bob's shift; the level fires after the 09:00 hand-off: dave is told."""
    filed = datetime(2026, 6, 2, 6, 55, tzinfo=UTC)  # 08:55 in Berlin
    incident = file_and_fire(
        acme, file_incident, schedule_level(nights), filed_at=filed, fire_at=filed + timedelta(seconds=600)
    )
    assert told(incident) == ["dave"]
    assert escalated(incident)["on_call"][0]["users"] == ["dave"]


def test_an_override_added_after_filing_is_who_the_level_reaches(acme, nights, alice, file_incident):
    policies.escalation_policy_set(brand=acme, chain={"levels": [schedule_level(nights)], "repeat": 0})
    with time_machine.travel(T0, tick=False):
        incident = file_incident(severity="critical")
        oncall.override_add(
            principal=Principal.for_user(alice),
            schedule=nights,
            username="alice",
            start=T0 + timedelta(minutes=5),
            end=T0 + timedelta(hours=1),
            now=T0,
        )
    with time_machine.travel(DEADLINE, tick=False):
        clock.sweep(plan_ahead=False)
    assert told(incident) == ["alice"]
    assert escalated(incident)["on_call"] == [{"schedule": nights.pk, "name": "Nights", "users": ["alice"]}]


def test_a_level_with_roles_and_a_schedule_tells_both_once_each(acme, nights, file_incident):
    incident = file_and_fire(acme, file_incident, schedule_level(nights, roles=["manager"], users=["bob"]))
    assert sorted(told(incident)) == ["alice", "bob"]


def test_two_schedules_each_tell_their_person(acme, nights, team, file_incident):
    days = oncall.schedule_create(brand=acme, name="Days", time_zone="UTC", layers=[layer(["dave"])])
    incident = file_and_fire(acme, file_incident, schedule_level(nights, days))
    assert sorted(told(incident)) == ["bob", "dave"]
    assert [entry["users"] for entry in escalated(incident)["on_call"]] == [["bob"], ["dave"]]


def test_nobody_on_call_tells_the_managers_and_says_why(acme, team, file_incident):
    office = oncall.schedule_create(
        brand=acme,
        name="Office hours",
        time_zone="Europe/Berlin",
        layers=[
            layer(
                ["bob"],
                restrictions=[{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "18:00"}],
            )
        ],
    )
    saturday_night = datetime(2026, 6, 6, 22, 0, tzinfo=UTC)
    incident = file_and_fire(
        acme,
        file_incident,
        schedule_level(office),
        filed_at=saturday_night,
        fire_at=saturday_night + timedelta(seconds=600),
    )
    assert told(incident) == ["alice"]
    data = escalated(incident)
    assert data["nobody_reached"] == {
        "reason": reach.NOBODY_ON_CALL,
        "roles": [],
        "users": [],
        "schedules": [office.pk],
        "on_call": [{"schedule": office.pk, "name": "Office hours", "users": []}],
        "unreachable": [],
        "instead": ["alice"],
    }
    assert data["on_call"] == [{"schedule": office.pk, "name": "Office hours", "users": []}]
    assert Escalation.all_brands.get(incident=incident).notified == ["alice"]
    assert messages.nobody_reached_reason(data["nobody_reached"]) == "nobody on call on Office hours"


def test_someone_on_call_without_any_way_to_reach_them(acme, nights, bob, file_incident):
    bob.email = ""
    bob.save()
    incident = file_and_fire(acme, file_incident, schedule_level(nights))
    why = escalated(incident)["nobody_reached"]
    assert (why["reason"], why["unreachable"], why["instead"]) == ("no_channel_or_email", ["bob"], ["alice"])
    assert told(incident) == ["alice"]


def test_someone_on_call_who_left_the_brand(acme, nights, bob, file_incident):
    bob.memberships.all().delete()
    incident = file_and_fire(acme, file_incident, schedule_level(nights))
    why = escalated(incident)["nobody_reached"]
    assert (why["reason"], why["instead"]) == ("no_such_member", ["alice"])
    assert messages.nobody_reached_reason(why) == "bob is not a member of this brand"


def test_a_schedule_deleted_after_filing_has_nobody_on_call(acme, nights, file_incident):
    policies.escalation_policy_set(brand=acme, chain={"levels": [schedule_level(nights)], "repeat": 0})
    with time_machine.travel(T0, tick=False):
        incident = file_incident(severity="critical")
    number = nights.pk
    oncall.schedule_delete(schedule=nights)
    with time_machine.travel(DEADLINE, tick=False):
        clock.sweep(plan_ahead=False)
    why = escalated(incident)["nobody_reached"]
    assert (why["reason"], why["instead"]) == ("nobody_on_call", ["alice"])
    assert messages.nobody_reached_reason(why) == f"nobody on call on schedule #{number} (deleted)"


def test_the_timeline_says_who_was_on_call(acme, nights, file_incident):
    incident = file_and_fire(acme, file_incident, schedule_level(nights))
    (line,) = [
        line
        for line in selectors.timeline_lines(incident, list(incident.events.order_by("at", "id")))
        if line.kind == "escalated"
    ]
    assert "On call: Nights — bob." in line.text


def test_fires_exactly_once_however_often_swept(acme, nights, file_incident):
    incident = file_and_fire(acme, file_incident, schedule_level(nights))
    with time_machine.travel(DEADLINE + timedelta(seconds=5), tick=False):
        clock.sweep(plan_ahead=False)
        clock.fire_due_timers(incident.pk)
    assert Escalation.all_brands.filter(incident=incident).count() == 1
    assert told(incident) == ["bob"]


def test_a_batch_naming_schedules_takes_the_same_queries_for_2_or_20_incidents(
    acme, globex, mallory, nights, file_incident
):
    """Schedules are read once per batch (four queries), not per incident or per level."""
    mallory.email = "mallory@globex.test"
    mallory.save()
    theirs = oncall.schedule_create(
        brand=globex, name="Theirs", time_zone="Asia/Vladivostok", layers=[layer(["mallory"])]
    )
    policies.escalation_policy_set(brand=acme, chain={"levels": [schedule_level(nights)], "repeat": 0})
    policies.escalation_policy_set(brand=globex, chain={"levels": [schedule_level(theirs)], "repeat": 0})

    def queries_to_fire(count: int, day: int) -> tuple[int, int]:
        filed = T0 + timedelta(days=day)
        with time_machine.travel(filed, tick=False):
            for i in range(count):
                file_incident(severity="critical", title=f"acme {day}/{i}")
                file_incident(brand=globex, by=mallory, severity="critical", title=f"globex {day}/{i}")
            clock.sweep(plan_ahead=False)  # nothing due yet: the heartbeat row exists from here on
        # Reminders of overdue steps and re-sent notifications of the day before are another story.
        ChecklistStep.all_brands.all().delete()
        Notification.all_brands.all().delete()
        with (
            time_machine.travel(filed + timedelta(seconds=600), tick=False),
            CaptureQueriesContext(connection) as ran,
        ):
            assert clock.sweep(plan_ahead=False)["fired"] == 4 * count  # warnings and level 1
        # The escalations' reads of schedules (the hand-off clock's claim of due schedules aside).
        reads = [
            q["sql"]
            for q in ran.captured_queries
            if 'FROM "crisis_schedule' in q["sql"] and '"next_handoff_at" <=' not in q["sql"]
        ]
        return len(ran), len(reads)

    one, ten = queries_to_fire(1, 0), queries_to_fire(10, 1)
    assert one == ten
    assert one[1] == 4  # schedules, layers, places in rotations, overrides: once for both brands
    by_person = {tuple(e.notified) for e in Escalation.all_brands.all()}
    assert by_person == {("bob",), ("dave",), ("mallory",)}  # day 0: bob, day 1: dave


def test_the_chain_may_name_only_the_brands_schedules(api, acme, alice, nights, mallory, globex):
    theirs = oncall.schedule_create(brand=globex, name="Theirs", time_zone="UTC", layers=[layer(["mallory"])])
    url = "/api/v1/brands/acme/escalation/"
    for schedules in ([theirs.pk], [nights.pk, 999_999], [0], ["x"]):
        level = {"after_seconds": 0, "roles": [], "users": [], "schedules": schedules}
        answer = api(alice).put(url, {"levels": [level], "repeat": 0}, format="json")
        assert answer.status_code == 400, answer.json()
        assert "levels" in answer.json()
    ok = api(alice).put(
        url, {"levels": [{"after_seconds": 0, "schedules": [nights.pk, nights.pk]}]}, format="json"
    )
    assert ok.status_code == 200, ok.json()
    assert ok.json()["levels"] == [{"after_seconds": 0, "roles": [], "users": [], "schedules": [nights.pk]}]
    nothing = api(alice).put(url, {"levels": [{"after_seconds": 0}]}, format="json")
    assert nothing.status_code == 400
    assert "schedule" in str(nothing.json())


def test_the_chain_answer_shows_schedules_for_levels_stored_before_them(api, acme, alice, carol):
    policies.escalation_policy_set(
        brand=acme, chain={"levels": [{"after_seconds": 0, "roles": ["manager"], "users": []}], "repeat": 0}
    )
    answer = api(carol).get("/api/v1/brands/acme/escalation/").json()
    assert answer["levels"] == [{"after_seconds": 0, "roles": ["manager"], "users": [], "schedules": []}]


def test_the_settings_page_warns_of_a_schedule_level_with_nobody_on_call_now(acme, team):
    empty = oncall.schedule_create(
        brand=acme,
        name="Later",
        time_zone="UTC",
        layers=[layer(["bob"], start=datetime(2030, 1, 1, tzinfo=UTC))],
    )
    policies.escalation_policy_set(brand=acme, chain={"levels": [schedule_level(empty)], "repeat": 0})
    with time_machine.travel(T0, tick=False):
        (warning,) = selectors.reach_warnings_for_brand(acme.pk)
    assert "Level 1 would reach no one today: nobody on call on Later." in warning["text"]


def test_a_newcomer_who_takes_the_shift_is_told_like_anyone(acme, nights, file_incident):
    erin = make_user("erin", acme, Role.RESPONDER, email="erin@acme.test")
    with time_machine.travel(T0, tick=False):
        oncall.override_add(
            principal=Principal.for_user(erin),
            schedule=nights,
            username="erin",
            start=T0,
            end=T0 + timedelta(hours=2),
            now=T0,
        )
    incident = file_and_fire(acme, file_incident, schedule_level(nights))
    assert told(incident) == ["erin"]
