"""
The pure maths of on-call schedules (crisis/shifts.py), table-driven, with the wall clock
frozen far from every instant asked about: nothing here may depend on "now".

Each row: a plan, a period, and the shifts expected in it as (user, local start, local end)
in the schedule's zone, so that hand-off times read as a person would check them.
"""

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from crisis.shifts import Layer, Override, Plan, Restriction, final_shifts, layer_shifts, on_call

BERLIN = ZoneInfo("Europe/Berlin")
MOSCOW = ZoneInfo("Europe/Moscow")
VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")
UTC_ZONE = ZoneInfo("UTC")
WEEKDAYS = frozenset(range(5))
EVERY_DAY = frozenset(range(7))


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(datetime(2031, 7, 4, 12, 0, tzinfo=UTC), tick=False):
        yield


def at(zone, *fields) -> datetime:
    return datetime(*fields, tzinfo=zone)


def local(zone, shifts) -> list[tuple[str, str, str]]:
    fmt = "%a %m-%d %H:%M%z"
    return [
        (s.user, s.start.astimezone(zone).strftime(fmt), s.end.astimezone(zone).strftime(fmt)) for s in shifts
    ]


def daily(zone, users, start, every=1, unit="days", restrictions=()) -> Layer:
    return Layer(users=tuple(users), start=start, every=every, unit=unit, restrictions=tuple(restrictions))


CASES = {
    "daily rotation of three, hand-off at 09:00": (
        Plan(UTC_ZONE, (daily(UTC_ZONE, "abc", at(UTC_ZONE, 2026, 5, 4, 9)),)),
        at(UTC_ZONE, 2026, 5, 4, 0),
        at(UTC_ZONE, 2026, 5, 8, 0),
        [
            ("a", "Mon 05-04 09:00+0000", "Tue 05-05 09:00+0000"),
            ("b", "Tue 05-05 09:00+0000", "Wed 05-06 09:00+0000"),
            ("c", "Wed 05-06 09:00+0000", "Thu 05-07 09:00+0000"),
            ("a", "Thu 05-07 09:00+0000", "Fri 05-08 00:00+0000"),
        ],
    ),
    "weekly rotation of two in Moscow, Monday 10:00 (UTC+3 all year)": (
        Plan(MOSCOW, (daily(MOSCOW, ["anna", "boris"], at(MOSCOW, 2026, 1, 5, 10), unit="weeks"),)),
        at(MOSCOW, 2026, 1, 12, 0),
        at(MOSCOW, 2026, 1, 27, 0),
        [
            ("anna", "Mon 01-12 00:00+0300", "Mon 01-12 10:00+0300"),
            ("boris", "Mon 01-12 10:00+0300", "Mon 01-19 10:00+0300"),
            ("anna", "Mon 01-19 10:00+0300", "Mon 01-26 10:00+0300"),
            ("boris", "Mon 01-26 10:00+0300", "Tue 01-27 00:00+0300"),
        ],
    ),
    "every two days": (
        Plan(UTC_ZONE, (daily(UTC_ZONE, "ab", at(UTC_ZONE, 2026, 5, 1, 8), every=2),)),
        at(UTC_ZONE, 2026, 5, 1, 8),
        at(UTC_ZONE, 2026, 5, 7, 8),
        [
            ("a", "Fri 05-01 08:00+0000", "Sun 05-03 08:00+0000"),
            ("b", "Sun 05-03 08:00+0000", "Tue 05-05 08:00+0000"),
            ("a", "Tue 05-05 08:00+0000", "Thu 05-07 08:00+0000"),
        ],
    ),
    "eight-hour shifts": (
        Plan(UTC_ZONE, (daily(UTC_ZONE, "xyz", at(UTC_ZONE, 2026, 5, 1, 6), every=8, unit="hours"),)),
        at(UTC_ZONE, 2026, 5, 2, 0),
        at(UTC_ZONE, 2026, 5, 2, 16),
        [
            ("z", "Sat 05-02 00:00+0000", "Sat 05-02 06:00+0000"),
            ("x", "Sat 05-02 06:00+0000", "Sat 05-02 14:00+0000"),
            ("y", "Sat 05-02 14:00+0000", "Sat 05-02 16:00+0000"),
        ],
    ),
    "Berlin, daily 09:00 across the spring change (29 March): 09:00 both sides, one 23-hour shift": (
        Plan(BERLIN, (daily(BERLIN, "ab", at(BERLIN, 2026, 3, 27, 9)),)),
        at(BERLIN, 2026, 3, 27, 9),
        at(BERLIN, 2026, 3, 31, 9),
        [
            ("a", "Fri 03-27 09:00+0100", "Sat 03-28 09:00+0100"),
            ("b", "Sat 03-28 09:00+0100", "Sun 03-29 09:00+0200"),
            ("a", "Sun 03-29 09:00+0200", "Mon 03-30 09:00+0200"),
            ("b", "Mon 03-30 09:00+0200", "Tue 03-31 09:00+0200"),
        ],
    ),
    "Berlin, daily 09:00 across the autumn change (25 October): one 25-hour shift": (
        Plan(BERLIN, (daily(BERLIN, "ab", at(BERLIN, 2026, 10, 23, 9)),)),
        at(BERLIN, 2026, 10, 24, 9),
        at(BERLIN, 2026, 10, 26, 9),
        [
            ("b", "Sat 10-24 09:00+0200", "Sun 10-25 09:00+0100"),
            ("a", "Sun 10-25 09:00+0100", "Mon 10-26 09:00+0100"),
        ],
    ),
    "Berlin, weekly Monday 09:00 across the spring change: still Monday 09:00": (
        Plan(BERLIN, (daily(BERLIN, "ab", at(BERLIN, 2026, 3, 23, 9), unit="weeks"),)),
        at(BERLIN, 2026, 3, 23, 9),
        at(BERLIN, 2026, 4, 6, 9),
        [
            ("a", "Mon 03-23 09:00+0100", "Mon 03-30 09:00+0200"),
            ("b", "Mon 03-30 09:00+0200", "Mon 04-06 09:00+0200"),
        ],
    ),
    "Berlin, 12-hour shifts count elapsed hours: the local hand-off moves with the change": (
        Plan(BERLIN, (daily(BERLIN, "ab", at(BERLIN, 2026, 3, 28, 9), every=12, unit="hours"),)),
        at(BERLIN, 2026, 3, 28, 9),
        at(BERLIN, 2026, 3, 29, 22),
        [
            ("a", "Sat 03-28 09:00+0100", "Sat 03-28 21:00+0100"),
            ("b", "Sat 03-28 21:00+0100", "Sun 03-29 10:00+0200"),
            ("a", "Sun 03-29 10:00+0200", "Sun 03-29 22:00+0200"),
        ],
    ),
    "Berlin, daily 02:30: the skipped 02:30 becomes 03:30, the doubled one is the first": (
        Plan(BERLIN, (daily(BERLIN, "ab", at(BERLIN, 2026, 3, 28, 2, 30)),)),
        at(BERLIN, 2026, 3, 28, 2, 30),
        at(BERLIN, 2026, 3, 30, 2, 30),
        [
            ("a", "Sat 03-28 02:30+0100", "Sun 03-29 03:30+0200"),
            ("b", "Sun 03-29 03:30+0200", "Mon 03-30 02:30+0200"),
        ],
    ),
    "Berlin, daily 02:30 on the autumn change: the first 02:30 (summer time)": (
        Plan(BERLIN, (daily(BERLIN, "ab", at(BERLIN, 2026, 10, 24, 2, 30)),)),
        at(BERLIN, 2026, 10, 24, 2, 30),
        at(BERLIN, 2026, 10, 26, 2, 30),
        [
            ("a", "Sat 10-24 02:30+0200", "Sun 10-25 02:30+0200"),
            ("b", "Sun 10-25 02:30+0200", "Mon 10-26 02:30+0100"),
        ],
    ),
    "Vladivostok (UTC+10): hand-off at local 09:00 is 23:00 UTC the day before": (
        Plan(VLADIVOSTOK, (daily(VLADIVOSTOK, "ab", at(VLADIVOSTOK, 2026, 6, 1, 9)),)),
        at(VLADIVOSTOK, 2026, 6, 1, 9),
        at(VLADIVOSTOK, 2026, 6, 3, 9),
        [
            ("a", "Mon 06-01 09:00+1000", "Tue 06-02 09:00+1000"),
            ("b", "Tue 06-02 09:00+1000", "Wed 06-03 09:00+1000"),
        ],
    ),
    "weekday office hours 09:00-18:00: nobody at night or at the weekend": (
        Plan(
            BERLIN,
            (
                daily(
                    BERLIN,
                    ["day"],
                    at(BERLIN, 2026, 1, 1),
                    unit="weeks",
                    restrictions=[Restriction(WEEKDAYS, time(9), time(18))],
                ),
            ),
        ),
        at(BERLIN, 2026, 1, 9, 0),  # a Friday
        at(BERLIN, 2026, 1, 13, 0),
        [
            ("day", "Fri 01-09 09:00+0100", "Fri 01-09 18:00+0100"),
            ("day", "Mon 01-12 09:00+0100", "Mon 01-12 18:00+0100"),
        ],
    ),
    "a restriction past midnight (Fri 22:00 to 06:00) runs into Saturday": (
        Plan(
            UTC_ZONE,
            (
                daily(
                    UTC_ZONE,
                    ["night"],
                    at(UTC_ZONE, 2026, 1, 1),
                    restrictions=[Restriction(frozenset({4}), time(22), time(6))],
                ),
            ),
        ),
        at(UTC_ZONE, 2026, 1, 8, 0),
        at(UTC_ZONE, 2026, 1, 17, 0),
        [
            ("night", "Fri 01-09 22:00+0000", "Sat 01-10 06:00+0000"),
            ("night", "Fri 01-16 22:00+0000", "Sat 01-17 00:00+0000"),
        ],
    ),
    "a restriction cuts a rotation: each turn keeps only its window": (
        Plan(
            UTC_ZONE,
            (
                daily(
                    UTC_ZONE,
                    "ab",
                    at(UTC_ZONE, 2026, 1, 5, 12),
                    restrictions=[Restriction(EVERY_DAY, time(8), time(20))],
                ),
            ),
        ),
        at(UTC_ZONE, 2026, 1, 5, 0),
        at(UTC_ZONE, 2026, 1, 7, 0),
        [
            ("a", "Mon 01-05 12:00+0000", "Mon 01-05 20:00+0000"),
            ("a", "Tue 01-06 08:00+0000", "Tue 01-06 12:00+0000"),
            ("b", "Tue 01-06 12:00+0000", "Tue 01-06 20:00+0000"),
        ],
    ),
    "Vladivostok's Monday 09:00-18:00 is Sunday 23:00 to Monday 08:00 UTC": (
        Plan(
            VLADIVOSTOK,
            (
                daily(
                    VLADIVOSTOK,
                    ["ivan"],
                    at(VLADIVOSTOK, 2026, 1, 1),
                    restrictions=[Restriction(frozenset({0}), time(9), time(18))],
                ),
            ),
        ),
        at(UTC_ZONE, 2026, 6, 7, 0),  # Sunday, UTC
        at(UTC_ZONE, 2026, 6, 9, 0),
        [("ivan", "Mon 06-08 09:00+1000", "Mon 06-08 18:00+1000")],
    ),
    "a later layer wins where it has someone; the earlier one shows through elsewhere": (
        Plan(
            MOSCOW,
            (
                daily(MOSCOW, ["night"], at(MOSCOW, 2026, 1, 1), unit="weeks"),
                daily(
                    MOSCOW,
                    ["day"],
                    at(MOSCOW, 2026, 1, 1),
                    restrictions=[Restriction(WEEKDAYS, time(9), time(18))],
                ),
            ),
        ),
        at(MOSCOW, 2026, 2, 6, 0),  # Friday
        at(MOSCOW, 2026, 2, 7, 0),
        [
            ("night", "Fri 02-06 00:00+0300", "Fri 02-06 09:00+0300"),
            ("day", "Fri 02-06 09:00+0300", "Fri 02-06 18:00+0300"),
            ("night", "Fri 02-06 18:00+0300", "Sat 02-07 00:00+0300"),
        ],
    ),
    "an override cuts a shift in three; overlapping overrides: the later wins": (
        Plan(
            UTC_ZONE,
            (daily(UTC_ZONE, ["a"], at(UTC_ZONE, 2026, 1, 1)),),
            (
                Override("o1", at(UTC_ZONE, 2026, 1, 2, 10), at(UTC_ZONE, 2026, 1, 2, 14), key=1),
                Override("o2", at(UTC_ZONE, 2026, 1, 2, 12), at(UTC_ZONE, 2026, 1, 2, 13), key=2),
            ),
        ),
        at(UTC_ZONE, 2026, 1, 2, 0),
        at(UTC_ZONE, 2026, 1, 3, 0),
        [
            ("a", "Fri 01-02 00:00+0000", "Fri 01-02 10:00+0000"),
            ("o1", "Fri 01-02 10:00+0000", "Fri 01-02 12:00+0000"),
            ("o2", "Fri 01-02 12:00+0000", "Fri 01-02 13:00+0000"),
            ("o1", "Fri 01-02 13:00+0000", "Fri 01-02 14:00+0000"),
            ("a", "Fri 01-02 14:00+0000", "Sat 01-03 00:00+0000"),
        ],
    ),
    "an override wins over every layer, and fills a gap where no layer has anyone": (
        Plan(
            UTC_ZONE,
            (
                daily(
                    UTC_ZONE,
                    ["day"],
                    at(UTC_ZONE, 2026, 1, 1),
                    restrictions=[Restriction(EVERY_DAY, time(9), time(17))],
                ),
            ),
            (Override("cover", at(UTC_ZONE, 2026, 1, 2, 16), at(UTC_ZONE, 2026, 1, 2, 20)),),
        ),
        at(UTC_ZONE, 2026, 1, 2, 0),
        at(UTC_ZONE, 2026, 1, 3, 0),
        [
            ("day", "Fri 01-02 09:00+0000", "Fri 01-02 16:00+0000"),
            ("cover", "Fri 01-02 16:00+0000", "Fri 01-02 20:00+0000"),
        ],
    ),
    "a schedule starting in the future has nobody before its first hand-off": (
        Plan(BERLIN, (daily(BERLIN, "ab", at(BERLIN, 2032, 1, 1, 9)),)),
        at(BERLIN, 2031, 12, 31, 0),
        at(BERLIN, 2032, 1, 2, 12),
        [
            ("a", "Thu 01-01 09:00+0100", "Fri 01-02 09:00+0100"),
            ("b", "Fri 01-02 09:00+0100", "Fri 01-02 12:00+0100"),
        ],
    ),
    "an empty layer has nobody: the layer below shows through": (
        Plan(
            UTC_ZONE,
            (daily(UTC_ZONE, ["a"], at(UTC_ZONE, 2026, 1, 1)), daily(UTC_ZONE, [], at(UTC_ZONE, 2026, 1, 1))),
        ),
        at(UTC_ZONE, 2026, 1, 2),
        at(UTC_ZONE, 2026, 1, 3),
        [("a", "Fri 01-02 00:00+0000", "Sat 01-03 00:00+0000")],
    ),
    "a schedule of one empty layer has nobody at all": (
        Plan(UTC_ZONE, (daily(UTC_ZONE, [], at(UTC_ZONE, 2026, 1, 1)),)),
        at(UTC_ZONE, 2026, 1, 2),
        at(UTC_ZONE, 2026, 1, 3),
        [],
    ),
}


@pytest.mark.parametrize(("plan", "since", "until", "expected"), CASES.values(), ids=CASES.keys())
def test_final_shifts(plan, since, until, expected):
    assert local(plan.zone, final_shifts(plan, since, until)) == expected


WHO_AT = [
    # (case, instant, who is on call)
    ("daily rotation of three, hand-off at 09:00", at(UTC_ZONE, 2026, 5, 5, 8, 59, 59), ["a"]),
    ("daily rotation of three, hand-off at 09:00", at(UTC_ZONE, 2026, 5, 5, 9), ["b"]),
    ("daily rotation of three, hand-off at 09:00", at(UTC_ZONE, 2026, 5, 4, 8), []),  # before the start
    (
        "Berlin, daily 09:00 across the spring change (29 March): 09:00 both sides, one 23-hour shift",
        at(BERLIN, 2026, 3, 29, 8, 59),
        ["b"],
    ),
    (
        "Berlin, daily 09:00 across the spring change (29 March): 09:00 both sides, one 23-hour shift",
        at(BERLIN, 2026, 3, 29, 9),
        ["a"],
    ),
    (
        "Berlin, daily 09:00 across the autumn change (25 October): one 25-hour shift",
        at(BERLIN, 2026, 10, 25, 8, 30),
        ["b"],
    ),
    ("weekday office hours 09:00-18:00: nobody at night or at the weekend", at(BERLIN, 2026, 1, 10, 12), []),
    (
        "weekday office hours 09:00-18:00: nobody at night or at the weekend",
        at(BERLIN, 2026, 1, 12, 17, 59),
        ["day"],
    ),
    ("weekday office hours 09:00-18:00: nobody at night or at the weekend", at(BERLIN, 2026, 1, 12, 18), []),
    (
        "Vladivostok's Monday 09:00-18:00 is Sunday 23:00 to Monday 08:00 UTC",
        at(UTC_ZONE, 2026, 6, 7, 23, 30),
        ["ivan"],
    ),
    ("Vladivostok's Monday 09:00-18:00 is Sunday 23:00 to Monday 08:00 UTC", at(UTC_ZONE, 2026, 6, 8, 9), []),
    (
        "a later layer wins where it has someone; the earlier one shows through elsewhere",
        at(MOSCOW, 2026, 2, 6, 12),
        ["day"],
    ),
    (
        "a later layer wins where it has someone; the earlier one shows through elsewhere",
        at(MOSCOW, 2026, 2, 7, 12),
        ["night"],
    ),
    (
        "an override cuts a shift in three; overlapping overrides: the later wins",
        at(UTC_ZONE, 2026, 1, 2, 12, 30),
        ["o2"],
    ),
    (
        "an override cuts a shift in three; overlapping overrides: the later wins",
        at(UTC_ZONE, 2026, 1, 2, 14),
        ["a"],
    ),
    (
        "a schedule starting in the future has nobody before its first hand-off",
        at(BERLIN, 2032, 1, 1, 8, 59),
        [],
    ),
    ("a schedule of one empty layer has nobody at all", at(UTC_ZONE, 2026, 1, 2), []),
]


@pytest.mark.parametrize(
    ("case", "instant", "expected"), WHO_AT, ids=[f"{c[:40]} @ {i:%m-%d %H:%M}" for c, i, _e in WHO_AT]
)
def test_on_call_at_an_instant(case, instant, expected):
    assert on_call(CASES[case][0], instant) == expected


def test_a_day_the_zone_skipped_makes_no_empty_or_backward_shift():
    """Samoa skipped 30 December 2011 (UTC-10 to UTC+14): a daily rotation goes on, one turn lost."""
    apia = ZoneInfo("Pacific/Apia")
    plan = Plan(apia, (daily(apia, "abc", at(apia, 2011, 12, 28, 9)),))
    found = final_shifts(plan, at(apia, 2011, 12, 28, 9), at(apia, 2012, 1, 2, 9))
    assert all(s.end > s.start for s in found)
    assert all(a.end == b.start for a, b in itertools.pairwise(found))
    assert [s.start.astimezone(apia).strftime("%m-%d %H:%M") for s in found] == [
        "12-28 09:00",
        "12-29 09:00",
        "12-31 09:00",
        "01-01 09:00",
    ]


def test_hand_offs_before_the_start_are_not_counted_back():
    """A rotation asked about long after its start counts its turns from the start, not from the period."""
    layer = daily(UTC_ZONE, "abcdefg", at(UTC_ZONE, 2000, 1, 3, 9))
    (shift,) = layer_shifts(layer, UTC_ZONE, at(UTC_ZONE, 2026, 1, 1, 10), at(UTC_ZONE, 2026, 1, 1, 11))
    days = (datetime(2026, 1, 1, tzinfo=UTC) - datetime(2000, 1, 3, tzinfo=UTC)).days
    assert shift.user == "abcdefg"[days % 7]


instants = st.datetimes(
    min_value=datetime(2026, 3, 1), max_value=datetime(2026, 11, 30), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(instant=instants, span_hours=st.integers(min_value=1, max_value=24 * 20))
def test_on_call_agrees_with_the_shifts_of_any_period_around_it(instant, span_hours):
    """Asking about one instant, or about a long period holding it, gives the same person."""
    plan = Plan(
        BERLIN,
        (
            daily(BERLIN, "abc", at(BERLIN, 2026, 3, 2, 2, 30)),
            daily(
                BERLIN,
                "de",
                at(BERLIN, 2026, 3, 2, 9),
                every=5,
                unit="hours",
                restrictions=[Restriction(frozenset({0, 2, 4}), time(20), time(3))],
            ),
        ),
        (Override("o", at(UTC_ZONE, 2026, 6, 1), at(UTC_ZONE, 2026, 6, 20)),),
    )
    since = instant - timedelta(hours=span_hours / 2)
    found = final_shifts(plan, since, since + timedelta(hours=span_hours))
    holding = [s.user for s in found if s.start <= instant < s.end]
    assert on_call(plan, instant) == holding
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))  # in order, no overlap
