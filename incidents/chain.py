"""
Escalation chains: what a brand configured, and when each level of a running chain is due.

A chain is `{"levels": [{"after_seconds", "roles", "users", "schedules"}, …], "repeat": n}`
(`schedules`: ids of the brand's on-call schedules; whoever is on call on them when the
level fires is notified, `incidents/reach.py`).
Level 1's `after_seconds` counts from the ack deadline. `repeat` runs the whole
chain again n more times; a re-run starts one *cycle* after the previous one,
where the cycle is the last level's offset plus one more step at the chain's
own spacing (the first level's offset if it is positive, else the smallest
gap between levels, else ten minutes). So `[0 s, 600 s]` repeated once fires
at 0, 600, 1200 and 1800 s past the deadline.

Everything here is pure: no database, time passed in.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from django.utils.translation import gettext_lazy as _

from crisis.models import Role

# Roles a level may name: the brand roles, plus members marked as executives
# (the seeds' "key communicators", from the SMM lead to top management).
LEVEL_ROLES = ("viewer", "responder", "manager", "executive")
# The same with the names people read (forms, the timeline, the warnings).
LEVEL_ROLE_CHOICES = [*Role.choices, ("executive", _("Executive"))]
MAX_LEVELS = 10
MAX_REPEAT = 10
MAX_SCHEDULES_PER_LEVEL = 10
DEFAULT_CYCLE_STEP_SECONDS = 600

DEFAULT_CHAIN = {
    "levels": [
        {"after_seconds": 0, "roles": ["manager"], "users": []},
        {"after_seconds": 600, "roles": ["executive"], "users": []},
    ],
    "repeat": 0,
}


@dataclass(frozen=True)
class Step:
    level: int  # 1-based, counting repeats: the 2nd run of a 2-level chain has levels 3 and 4
    offset_seconds: int  # past the ack deadline
    roles: tuple[str, ...]
    users: tuple[str, ...]
    schedules: tuple[int, ...] = ()


def steps(chain: dict) -> list[Step]:
    """Every level the chain will fire, in order, repeats included."""
    levels = sorted(chain.get("levels") or [], key=lambda lvl: lvl["after_seconds"])
    if not levels:
        return []
    offsets = [lvl["after_seconds"] for lvl in levels]
    gaps = [b - a for a, b in pairwise(offsets) if b > a]
    step = offsets[0] if offsets[0] > 0 else min(gaps, default=DEFAULT_CYCLE_STEP_SECONDS)
    cycle = offsets[-1] + step
    result = []
    for run in range(int(chain.get("repeat") or 0) + 1):
        for lvl in levels:
            result.append(
                Step(
                    level=len(result) + 1,
                    offset_seconds=run * cycle + lvl["after_seconds"],
                    roles=tuple(lvl.get("roles") or ()),
                    users=tuple(lvl.get("users") or ()),
                    schedules=tuple(lvl.get("schedules") or ()),
                )
            )
    return result


def as_shown(chain: dict) -> dict:
    """The chain as the API answers it: every level with `schedules`, also one stored before they existed."""
    return {
        **chain,
        "levels": [{**lvl, "schedules": lvl.get("schedules") or []} for lvl in chain.get("levels") or []],
    }


def schedule_ids(chain: dict) -> set[int]:
    """Every on-call schedule the chain names."""
    return {pk for lvl in chain.get("levels") or () for pk in lvl.get("schedules") or ()}


def due_at_level(chain: dict, ack_due_at: datetime, fired: int) -> datetime | None:
    """When the level after `fired` levels is due; None when the chain is exhausted."""
    remaining = steps(chain)[fired:]
    if not remaining:
        return None
    return ack_due_at + timedelta(seconds=remaining[0].offset_seconds)


def warning_at(detected_at: datetime, ack_due_at: datetime, share: float) -> datetime | None:
    """When `share` of the ack window has passed; None if warnings are off (share ≥ 1)."""
    if share >= 1:
        return None
    return detected_at + (ack_due_at - detected_at) * share
