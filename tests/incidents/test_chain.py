"""Escalation chain maths (pure)."""

from datetime import UTC, datetime, timedelta

import pytest

from incidents import chain

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def offsets(c):
    return [(s.level, s.offset_seconds) for s in chain.steps(c)]


def test_default_chain_managers_then_executives_ten_minutes_later():
    steps = chain.steps(chain.DEFAULT_CHAIN)
    assert [(s.level, s.offset_seconds, s.roles) for s in steps] == [
        (1, 0, ("manager",)),
        (2, 600, ("executive",)),
    ]


@pytest.mark.parametrize(
    "levels,repeat,expected",
    [
        ([0, 600], 0, [(1, 0), (2, 600)]),
        ([0, 600], 1, [(1, 0), (2, 600), (3, 1200), (4, 1800)]),
        ([300], 2, [(1, 300), (2, 900), (3, 1500)]),
        ([0], 1, [(1, 0), (2, 600)]),
        ([600, 0, 300], 0, [(1, 0), (2, 300), (3, 600)]),  # sorted by offset
    ],
)
def test_steps_and_repeats(levels, repeat, expected):
    c = {
        "levels": [{"after_seconds": a, "roles": ["manager"], "users": []} for a in levels],
        "repeat": repeat,
    }
    assert offsets(c) == expected


def test_empty_chain_never_fires():
    assert chain.steps({"levels": [], "repeat": 3}) == []
    assert chain.due_at_level({"levels": []}, T0, 0) is None


def test_due_at_level():
    c = chain.DEFAULT_CHAIN
    assert chain.due_at_level(c, T0, 0) == T0
    assert chain.due_at_level(c, T0, 1) == T0 + timedelta(seconds=600)
    assert chain.due_at_level(c, T0, 2) is None


def test_warning_at_share_of_the_window():
    detected, due = T0, T0 + timedelta(seconds=600)
    assert chain.warning_at(detected, due, 0.8) == T0 + timedelta(seconds=480)
    assert chain.warning_at(detected, due, 1.0) is None
