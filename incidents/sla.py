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
