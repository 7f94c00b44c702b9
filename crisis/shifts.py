"""
Who is on call when: the pure maths of on-call schedules (API.md, "On-call schedules").

A schedule is a time zone, ordered layers and overrides (`Plan`). A layer hands its
shift from one person to the next every `every` hours, days or weeks from its first
hand-off `start`:

- hours count elapsed time: a 12-hour shift is 12 hours long, DST or not;
- days and weeks keep the local wall-clock time of `start` in the schedule's zone, so a
  daily 09:00 hand-off stays at 09:00 across DST changes (the shift over the change is
  an hour shorter or longer). A hand-off time the spring change skips (02:30 in
  Berlin) falls an hour later, at the same instant the skipped clock reading maps to
  with the offset before the change (PEP 495, fold=0); one the autumn change repeats
  is taken the first time it occurs.

Before `start` a layer has nobody. Restrictions (`days`, `from`, `to`, local times;
`to` <= `from` runs past midnight into the next day, `to` == `from` is 24 hours) limit
a layer to those windows; outside them it has nobody, and the layer below shows
through. A later layer wins wherever it has someone; an override wins over every
layer, a later override over an earlier one.

Everything here is pure: no database, instants passed in (aware datetimes), results
in UTC. `on_call` is `final_shifts` asked about one instant, so the two cannot disagree.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

UNITS = ("hours", "days", "weeks")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
_ONE_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True)
class Restriction:
    """A weekly window in local time: on each of `days` (0 = Monday) from `start` to `end`."""

    days: frozenset[int]
    start: time
    end: time  # <= start: the window ends on the next day

    def windows(self, zone: ZoneInfo, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
        """The window's occurrences that overlap [since, until), as UTC instants."""
        first = since.astimezone(zone).date() - timedelta(days=1)  # yesterday's may run into today
        last = until.astimezone(zone).date()
        found = []
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            end_day = day if self.end > self.start else day + timedelta(days=1)
            begins, ends = _instant(day, self.start, zone), _instant(end_day, self.end, zone)
            if begins < until and ends > since and ends > begins:
                found.append((begins, ends))
        return found


@dataclass(frozen=True)
class Layer:
    """People taking turns: `users[k % len(users)]` holds the k-th shift from `start`."""

    users: tuple[str, ...]
    start: datetime
    every: int
    unit: str  # one of UNITS
    restrictions: tuple[Restriction, ...] = ()
    name: str = ""

    def __post_init__(self):
        # Aware arithmetic in one zone is wall-clock arithmetic: keep instants in UTC.
        object.__setattr__(self, "start", self.start.astimezone(UTC))


@dataclass(frozen=True)
class Override:
    """`user` takes whatever falls in [start, end); `key` names it (its row's id)."""

    user: str
    start: datetime
    end: datetime
    key: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))


@dataclass(frozen=True)
class Plan:
    """Everything needed to say who is on call: a zone, layers (lowest first) and overrides (oldest first)."""

    zone: ZoneInfo
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = field(default=())


@dataclass(frozen=True)
class Shift:
    """
    One person on call from `start` to `end`. `layer` is the 1-based number of the layer
    it comes from, or None for an override, whose key is then `override`.
    """

    user: str
    start: datetime
    end: datetime
    layer: int | None = None
    override: int | None = None


# --- One layer -----------------------------------------------------------------------


def handoff(layer: Layer, zone: ZoneInfo, k: int) -> datetime:
    """The instant the k-th shift of `layer` begins (k = 0: its `start`), in UTC."""
    if layer.unit == "hours":
        return layer.start + timedelta(hours=k * layer.every)
    step = timedelta(days=k * layer.every * (7 if layer.unit == "weeks" else 1))
    local = layer.start.astimezone(zone).replace(tzinfo=None, fold=0)
    return (local + step).replace(tzinfo=zone).astimezone(UTC)


def _shift_index(layer: Layer, zone: ZoneInfo, at: datetime) -> int:
    """The k whose shift holds `at` (negative before `start`)."""
    hours = {"hours": 1, "days": 24, "weeks": 24 * 7}[layer.unit] * layer.every
    k = math.floor((at - layer.start).total_seconds() / (hours * 3600))
    # Local days are 23 to 25 hours long: the estimate is off by at most one shift.
    while k > 0 and handoff(layer, zone, k) > at:
        k -= 1
    while handoff(layer, zone, k + 1) <= at:
        k += 1
    return k


def rotation(layer: Layer, zone: ZoneInfo, since: datetime, until: datetime) -> list[Shift]:
    """The layer's turns that overlap [since, until), before restrictions, clipped to it."""
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    if not layer.users or until <= since:
        return []
    since = max(since, layer.start)
    if until <= since:
        return []
    shifts = []
    k = _shift_index(layer, zone, since)
    while True:
        begins, ends = handoff(layer, zone, k), handoff(layer, zone, k + 1)
        if begins >= until:
            return shifts
        if ends > begins:  # a zero-length shift: a local day the zone skipped
            user = layer.users[k % len(layer.users)]
            shifts.append(Shift(user=user, start=max(begins, since), end=min(ends, until)))
        k += 1


def layer_shifts(
    layer: Layer, zone: ZoneInfo, since: datetime, until: datetime, *, number=None
) -> list[Shift]:
    """The layer's shifts within [since, until): its turns, cut to its restrictions."""
    turns = rotation(layer, zone, since, until)
    if layer.restrictions:
        windows = _union(w for r in layer.restrictions for w in r.windows(zone, since, until))
        turns = [
            Shift(user=s.user, start=max(s.start, a), end=min(s.end, b))
            for s in turns
            for a, b in windows
            if a < s.end and b > s.start
        ]
    return [Shift(user=s.user, start=s.start, end=s.end, layer=number) for s in turns]


# --- The whole schedule --------------------------------------------------------------


def final_shifts(plan: Plan, since: datetime, until: datetime) -> list[Shift]:
    """
    Who is on call within [since, until), overrides applied, in order; a gap means nobody.

    Every tier (each layer, then each override) is a list of non-overlapping shifts in
    order, the later tier winning. The period is cut at every tier's boundaries; each
    piece goes to the highest tier that covers it, and neighbouring pieces of the same
    person from the same tier are joined again.
    """
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    if until <= since:
        return []
    tiers: list[list[Shift]] = [
        layer_shifts(layer, plan.zone, since, until, number=n) for n, layer in enumerate(plan.layers, start=1)
    ]
    for override in plan.overrides:
        begins, ends = max(override.start, since), min(override.end, until)
        if begins < ends:
            tiers.append([Shift(user=override.user, start=begins, end=ends, override=override.key)])
    cuts = sorted({since, until, *(t for tier in tiers for s in tier for t in (s.start, s.end))})
    at = [0] * len(tiers)  # per tier: the first shift that may still cover a piece
    pieces: list[Shift] = []
    for begins, ends in itertools.pairwise(cuts):
        winner = None
        for n in range(len(tiers) - 1, -1, -1):
            tier = tiers[n]
            while at[n] < len(tier) and tier[at[n]].end <= begins:
                at[n] += 1
            if at[n] < len(tier) and tier[at[n]].start <= begins:
                winner = tier[at[n]]
                break
        if winner is None:
            continue
        last = pieces[-1] if pieces else None
        if (
            last is not None
            and last.end == begins
            and (last.user, last.layer, last.override) == (winner.user, winner.layer, winner.override)
        ):
            pieces[-1] = Shift(last.user, last.start, ends, last.layer, last.override)
        else:
            pieces.append(Shift(winner.user, begins, ends, winner.layer, winner.override))
    return pieces


def on_call(plan: Plan, at: datetime) -> list[str]:
    """Who is on call at `at`: one person, or nobody ([])."""
    found = final_shifts(plan, at, at + _ONE_INSTANT)
    return [found[0].user] if found else []


def turns(pieces: list[Shift]) -> list[Shift]:
    """
    `final_shifts`' pieces as people's turns: touching pieces of the same person joined
    (a person's layer shift and their own override in a row are one turn), keeping the
    first piece's source. A turn's start is a hand-off (someone comes on call after someone
    else or after nobody), unless it is only where the period asked about begins.
    """
    found: list[Shift] = []
    for piece in pieces:
        last = found[-1] if found else None
        if last is not None and last.end == piece.start and last.user == piece.user:
            found[-1] = Shift(last.user, last.start, piece.end, last.layer, last.override)
        else:
            found.append(piece)
    return found


# --- Helpers -------------------------------------------------------------------------


def _instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """A local date and wall-clock time in `zone` as a UTC instant (fold=0: see the module's note)."""
    return datetime.combine(day, clock).replace(tzinfo=zone, fold=0).astimezone(UTC)


def _union(windows) -> list[tuple[datetime, datetime]]:
    """Overlapping or touching windows merged, in order."""
    merged: list[tuple[datetime, datetime]] = []
    for begins, ends in sorted(windows):
        if merged and begins <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], ends))
        else:
            merged.append((begins, ends))
    return merged
