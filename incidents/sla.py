"""
SLA targets and deadline maths.

Everything here is a pure function of its arguments (time is passed in), so
the maths is tested with frozen time and no database.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SlaTarget:
    ack_seconds: int
    resolve_seconds: int


# DESIGN.md: acknowledge within 10 / 15 / 60 / 240 minutes. Resolution targets
# are ours: 4 hours, 12 hours, 1 day, 3 days.
DEFAULT_TARGETS: dict[str, SlaTarget] = {
    "critical": SlaTarget(ack_seconds=600, resolve_seconds=4 * 3600),
    "high": SlaTarget(ack_seconds=900, resolve_seconds=12 * 3600),
    "medium": SlaTarget(ack_seconds=3600, resolve_seconds=24 * 3600),
    "low": SlaTarget(ack_seconds=14400, resolve_seconds=72 * 3600),
}

# Status updates during a crisis (API.md, updates-policy): every 30 minutes while critical,
# every hour while high, none asked for below. A brand sets its own.
DEFAULT_UPDATE_CADENCE: dict[str, int | None] = {"critical": 1800, "high": 3600, "medium": None, "low": None}

MIN_SECONDS = 1
MAX_SECONDS = 7 * 24 * 3600


def due_at(start: datetime, seconds: int) -> datetime:
    """When a window of `seconds` opened at `start` runs out."""
    return start + timedelta(seconds=seconds)


def is_breached(*, due: datetime | None, done: datetime | None, now: datetime) -> bool:
    """Missed: done after the deadline, or not done and the deadline has passed."""
    if due is None:
        return False
    if done is not None:
        return done > due
    return now > due


def retimed(
    *,
    detected_at: datetime,
    ack_due_at: datetime,
    resolve_due_at: datetime,
    target: SlaTarget,
    unclaimed: bool,
    now: datetime,
) -> tuple[datetime, datetime]:
    """
    The (ack, resolve) deadlines of an open incident whose severity now has `target`.

    Each is re-timed from `detected_at` with the new target — the acknowledge deadline only
    while the incident is unclaimed — except a deadline that has already passed: it stays
    where it is, so no breach is erased and an escalation under way keeps its clock. A new
    deadline may fall in the past (a raise on an old complaint): the clock fires it at once.
    """

    def moved(current: datetime, seconds: int) -> datetime:
        return current if is_breached(due=current, done=None, now=now) else due_at(detected_at, seconds)

    ack = moved(ack_due_at, target.ack_seconds) if unclaimed else ack_due_at
    return ack, moved(resolve_due_at, target.resolve_seconds)


def update_due_at(
    *,
    acknowledged_at: datetime | None,
    last_update_at: datetime | None,
    cadence_seconds: int | None,
    now: datetime,
    reminded_at: datetime | None = None,
) -> datetime | None:
    """
    When the next status-update reminder is due; None without a cadence or before acknowledgement.

    The beats fall every `cadence_seconds` from the later of the acknowledgement and the last
    update. The first beat still ahead is due then; a beat already passed that nobody was
    reminded of (`reminded_at`: the last reminder) is due at once — it is returned as it
    is, in the past — so each missed beat reminds once, and beats missed while the
    workers were down are not replayed in a burst.
    """
    if not cadence_seconds or acknowledged_at is None:
        return None
    base = max(acknowledged_at, last_update_at or acknowledged_at)
    step = timedelta(seconds=cadence_seconds)
    if base + step > now:
        return base + step
    passed = base + step * ((now - base) // step)  # the latest beat, at or before now
    if reminded_at is not None and reminded_at >= passed:
        return passed + step
    return passed
