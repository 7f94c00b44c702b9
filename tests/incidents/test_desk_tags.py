"""The console's template library `desk`: `moment` (a time for a person) and `duration` (a span)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from incidents.templatetags.desk import duration, duration_units, local_text, moment

AT = datetime(2026, 11, 30, 0, 24, 47, tzinfo=UTC)


@pytest.mark.parametrize(
    "seconds,text",
    [
        (0, "0 s"),
        (1, "1 s"),
        (59, "59 s"),
        (60, "1 min"),
        (61, "1 min 1 s"),
        (77.016, "1 min 17 s"),  # the dashboard's old "77.016 s"
        (252, "4 min 12 s"),
        (3599, "59 min 59 s"),
        (3599.6, "1 h"),  # rounded to the second first
        (3600, "1 h"),
        (3660, "1 h 1 min"),
        (3601, "1 h"),  # two units: the seconds of an hour say nothing
        (7500, "2 h 5 min"),
        (86399, "23 h 59 min"),
        (86400, "1 d"),
        (3 * 86400 + 4 * 3600 + 59, "3 d 4 h"),
        (400 * 86400, "400 d"),
        (0.4, "0 s"),
        (timedelta(minutes=4, seconds=12), "4 min 12 s"),
        (Decimal("252.4"), "4 min 12 s"),
        ("252", "4 min 12 s"),
        (-252, "−4 min 12 s"),
        (-0.4, "0 s"),  # no "−0 s"
        (None, "—"),
        ("", "—"),
        ("abc", "—"),
        (float("nan"), "—"),
        (float("inf"), "—"),
        (True, "—"),
        ([1], "—"),
    ],
)
def test_duration_in_its_two_largest_units(seconds, text):
    with translation.override("en"):
        assert duration(seconds) == text


@pytest.mark.parametrize(
    "seconds,text",
    [(252, "4 мин 12 с"), (7500, "2 ч 5 мин"), (3 * 86400 + 4 * 3600, "3 д 4 ч"), (0, "0 с"), (1, "1 с")],
)
def test_duration_in_russian(seconds, text):
    with translation.override("ru"):
        assert duration(seconds) == text


def test_the_browsers_units_are_the_filters():
    with translation.override("ru"):
        assert '"min": ["{n} мин", "{n} мин", "{n} мин"]' in duration_units()
    with translation.override("en"):
        assert '"s": ["{n} s", "{n} s", "{n} s"]' in duration_units()


def test_moment_in_two_zones_with_utc_on_hover():
    with timezone.override(ZoneInfo("Europe/Moscow")):
        moscow = moment(AT)
    with timezone.override(ZoneInfo("America/New_York")):
        new_york = moment(AT, "Y-m-d H:i:s")
    hover = 'datetime="2026-11-30T00:24:47Z" title="2026-11-30 00:24:47 UTC"'
    assert moscow == f"<time {hover}>2026-11-30 03:24 MSK</time>"
    assert new_york == f"<time {hover}>2026-11-29 19:24:47 EST</time>"


def test_moment_knows_summer_time():
    july = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    with timezone.override(ZoneInfo("America/New_York")):
        assert local_text(july) == "2026-07-01 08:00 EDT"


def test_moment_of_nothing_of_a_date_and_of_a_naive_time():
    assert moment(None) == "—"
    assert moment(date(2026, 12, 1)) == "2026-12-01"  # a due date has no zone
    with timezone.override(ZoneInfo("Asia/Tokyo")):
        assert "09:24 JST" in moment(datetime(2026, 11, 30, 0, 24))  # naive: taken as UTC


def test_moment_escapes_and_works_in_templates():
    template = Template('{% load desk %}{{ at|moment:"H:i" }} · {{ seconds|duration }}')
    with timezone.override(ZoneInfo("Asia/Kolkata")):
        text = template.render(Context({"at": AT, "seconds": 77.016}))
    assert text == (
        '<time datetime="2026-11-30T00:24:47Z" title="2026-11-30 00:24:47 UTC">05:54 IST</time> · 1 min 17 s'
    )
