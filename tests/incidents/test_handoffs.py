"""
Shift hand-offs (issue 21, item 5) with frozen time: which hand-offs a sweep finds due, who
is told (the incoming person, once, in their language, with the open incidents of the
brand they now cover), and what is not announced (the same person going on, nobody on
call, a shift that ended while no worker ran, someone who has left the brand).

acme: alice (manager), bob and dave (responders), carol (viewer); globex: mallory.
"Nights" hands off daily at 09:00 Berlin (07:00 UTC in June): bob from 1 June, dave from 2 June, …
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crisis import oncall
from crisis import services as crisis_services
from crisis.models import Membership, Schedule
from crisis.tenancy import Principal
from incidents import clock, handoffs
from incidents.models import Notification

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # a Monday, 14:00 in Berlin: bob's shift
NINE = datetime(2026, 6, 2, 7, 0, tzinfo=UTC)  # 09:00 Berlin on 2 June: dave's turn


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
        "start": datetime(2026, 6, 1, 7, 0, tzinfo=UTC),
        "shift": {"every": 1, "unit": "days"},
        "restrictions": [],
        **changes,
    }


@pytest.fixture
def nights(acme, team):
    with time_machine.travel(T0, tick=False):
        return oncall.schedule_create(
            brand=acme, name="Nights", time_zone="Europe/Berlin", layers=[layer(["bob", "dave"])]
        )


def sweep_at(moment) -> int:
    with time_machine.travel(moment, tick=False):
        return clock.sweep(plan_ahead=False)["handoffs"]


def told() -> list[str]:
    """Who got a hand-off message, in order (one row per channel: e-mail here)."""
    return [
        n.recipient.username
        for n in Notification.all_brands.filter(reason="handoff").select_related("recipient").order_by("pk")
    ]


def due(schedule) -> datetime:
    return Schedule.all_brands.get(pk=schedule.pk).next_handoff_at


def test_a_new_schedule_tells_whoever_is_on_call_then_each_hand_off_once(nights):
    assert due(nights) == T0  # a new schedule is looked at at once
    assert sweep_at(T0) == 1
    assert told() == ["bob"]
    assert due(nights) == NINE  # the next hand-off
    assert sweep_at(T0 + timedelta(seconds=5)) == 0  # nothing due: nothing again
    assert sweep_at(NINE - timedelta(seconds=1)) == 0
    assert sweep_at(NINE) == 1
    assert told() == ["bob", "dave"]
    assert sweep_at(NINE) == 0  # a second sweeper at the same moment finds nothing due
    assert due(nights) == NINE + timedelta(days=1)


# Which hand-offs are due, table-driven: (what, the sweeps' moments, who is told, in order).
DUE = {
    "daily hand-offs at 09:00 Berlin, each once": (
        [T0, NINE, NINE + timedelta(hours=1), NINE + timedelta(days=1)],
        ["bob", "dave", "bob"],
    ),
    "a sweep a little late still announces the hand-off": (
        [T0, NINE + timedelta(seconds=7)],
        ["bob", "dave"],
    ),
    "no worker for a day and a half: dave's turn was missed, bob's next one is announced": (
        [T0, NINE + timedelta(days=1, hours=3)],
        ["bob", "bob"],
    ),
    "no worker for three days: only whoever is on call by then is told": (
        [T0, NINE + timedelta(days=2, hours=3)],
        ["bob", "dave"],  # 4 June: dave's; his missed 2 June turn and bob's 3 June one are not announced
    ),
    "sweeps inside one turn tell nobody again": (
        [T0, T0 + timedelta(hours=1), NINE - timedelta(hours=2), NINE - timedelta(minutes=1)],
        ["bob"],
    ),
}


@pytest.mark.parametrize("case", DUE.keys())
def test_which_hand_offs_are_due(nights, case):
    moments, expected = DUE[case]
    for moment in moments:
        sweep_at(moment)
    assert told() == expected


def test_an_override_is_a_hand_off_when_it_starts_and_when_it_ends(nights, bob, dave):
    sweep_at(T0)
    start, end = T0 + timedelta(hours=2), T0 + timedelta(hours=4)
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        oncall.override_add(
            principal=Principal.for_user(dave),
            schedule=nights,
            username="dave",
            start=start,
            end=end,
            now=T0 + timedelta(minutes=1),
        )
    assert due(nights) == T0 + timedelta(minutes=1)  # looked at again at once …
    assert sweep_at(T0 + timedelta(minutes=1)) == 0  # … bob is still on call: nobody new
    assert due(nights) == start
    assert sweep_at(start) == 1
    assert sweep_at(end) == 1
    assert told() == ["bob", "dave", "bob"]  # bob comes back when the override ends


def test_taking_a_shift_that_has_begun_tells_the_taker_at_once(nights, dave):
    sweep_at(T0)
    now = T0 + timedelta(hours=1)
    with time_machine.travel(now, tick=False):
        # What the console's "take this shift" does: from when the page was drawn, a moment ago.
        oncall.override_add(
            principal=Principal.for_user(dave),
            schedule=nights,
            username="dave",
            start=now - timedelta(seconds=20),
            end=NINE,
            now=now,
        )
    assert sweep_at(now) == 1
    assert told() == ["bob", "dave"]
    assert sweep_at(NINE) == 0  # 09:00 is dave's own turn: he goes on, nobody new


def test_nobody_on_call_is_no_message_and_the_next_person_is(acme, team):
    with time_machine.travel(T0, tick=False):
        office = oncall.schedule_create(
            brand=acme,
            name="Office hours",
            time_zone="Europe/Berlin",
            layers=[layer(["bob"], restrictions=[{"days": ["mon", "tue"], "from": "09:00", "to": "18:00"}])],
        )
    sweep_at(T0)
    assert told() == ["bob"]
    six = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)  # 18:00 Berlin: nobody comes on, no hand-off
    assert due(office) == NINE
    assert sweep_at(six) == 0
    assert sweep_at(NINE) == 1  # Tuesday 09:00: bob again, after nobody
    assert told() == ["bob", "bob"]
    assert due(office) == datetime(2026, 6, 8, 7, 0, tzinfo=UTC)  # next Monday 09:00


def test_the_message_lists_the_open_incidents_of_the_brand_in_the_persons_language(
    nights, dave, file_incident, globex, mallory, incident_in, alice, bob
):
    with time_machine.travel(T0, tick=False):
        wave = file_incident(title="VK wave", severity="critical")
        leak = file_incident(title="Data leak", severity="high")
        done = file_incident(title="Old story", severity="low")
        theirs = file_incident(brand=globex, by=mallory, title="Globex wave", severity="critical")
    incident_in(done, "resolved", manager=alice, responder=bob)
    crisis_services.profile_update(user=dave, language="ru", time_zone="Asia/Vladivostok")
    sweep_at(T0)
    sweep_at(NINE)
    message = Notification.all_brands.get(reason="handoff", recipient=dave)
    assert message.incident is None and message.brand_id == nights.brand_id
    assert message.subject == "[Acme Coffee] Вы на дежурстве: Nights"
    assert "до 2026-06-03 17:00 +10" in message.body  # 09:00 Berlin is 17:00 in Vladivostok
    assert f"#{wave.pk} VK wave" in message.body and f"#{leak.pk} Data leak" in message.body
    assert "Old story" not in message.body and "Globex" not in message.body
    assert message.body.index("VK wave") < message.body.index("Data leak")  # most urgent first
    assert message.payload["event"] == "handoff"
    assert [i["id"] for i in message.payload["open_incidents"]] == [wave.pk, leak.pk]
    assert theirs.pk not in [i["id"] for i in message.payload["open_incidents"]]
    bob_message = Notification.all_brands.get(reason="handoff", recipient__username="bob")
    assert bob_message.subject == "[Acme Coffee] You are on call now: Nights"  # bob's is in English


def test_someone_who_left_the_brand_is_not_told(nights, bob):
    Membership.objects.for_brands([nights.brand_id]).filter(user=bob).delete()
    sweep_at(T0)
    assert told() == []
    assert Schedule.all_brands.get(pk=nights.pk).announced_on_call == "bob"  # and not retried each tick


def test_a_sweep_reads_any_number_of_due_schedules_in_a_fixed_number_of_queries(acme, globex, team, mallory):
    def queries(count: int, day: int) -> int:
        with time_machine.travel(T0 + timedelta(days=day), tick=False):
            for n in range(count):
                oncall.schedule_create(
                    brand=acme if n % 2 else globex,
                    name=f"S{day}-{n}",
                    time_zone="UTC",
                    layers=[layer(["bob"] if n % 2 else ["mallory"])],
                )
            with CaptureQueriesContext(connection) as ran:
                assert handoffs.sweep() == count
        return len([q for q in ran.captured_queries if "UPDATE" not in q["sql"]])

    assert queries(2, 10) == queries(10, 20)
