"""
Who an escalation level reaches, and what happens when that is nobody.

A level names roles (`executive`: the members marked as key communicators), users and
on-call schedules (whoever is on call on each when the level fires joins the people it
names: `crisis.oncall.on_call`). The people it names are reached through their
channels, or else their account e-mail (`outbox.channels_of`); someone with neither is
named but told nothing. API.md's one rule for every level: a level that reaches nobody
notifies the brand's managers instead, and its `escalated` event says why in
`data.nobody_reached`:

    {"reason": "no_such_member" | "no_channel_or_email" | "nobody_on_call",
     "roles": [...], "users": [...],   # what the level named
     "schedules": [...],               # (a level naming schedules) their ids, and who was
     "on_call": [{"schedule", "name", "users"}],  # on call on each when it fired
     "unreachable": [...],             # its members without a channel or e-mail
     "instead": [...]}                 # the managers told in its place ([] : none could be)

`nobody_on_call`: the level's schedules had nobody on call and its roles and users
found nobody either. Someone on call who has since left the brand is `no_such_member`.

The clock asks this when a level fires (at the instant it fires, in the transaction
that records it); the console asks it ahead of time, to warn on a brand's settings and
an incident's page of a level that would reach nobody if it fired now.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from crisis import oncall
from crisis.models import Membership

from . import outbox

# The reasons a level reached nobody: stable codes for machines (`data.nobody_reached.reason`);
# people read the sentences `messages.nobody_reached_reason` makes of them.
NO_SUCH_MEMBER = "no_such_member"  # no active member holds the roles or is one of the users
NO_CHANNEL_OR_EMAIL = "no_channel_or_email"  # its members have no channel and no e-mail
NOBODY_ON_CALL = "nobody_on_call"  # its schedules had nobody on call when it fired, and nobody else was named

MANAGERS = ("manager",)


@dataclass(frozen=True)
class Reach:
    """Whom one level tells: `users` (its own reachable people, else the brand's reachable managers)."""

    users: list
    nobody_reached: dict | None = None  # None: the level reached someone of its own
    unreachable: tuple[str, ...] = field(default=())  # named members told nothing: no channel, no e-mail
    on_call: tuple[oncall.OnCall, ...] = field(default=())  # who was on call on each schedule it names

    @property
    def usernames(self) -> list[str]:
        return [user.get_username() for user in self.users]


class Reacher:
    """
    Answers "whom does this level reach?" for one batch of alerts or one page, at one
    instant `at` (default now). Each brand's active members and their ways of being
    reached are read once (two queries), whatever the number of levels, incidents or
    people asked about; the schedules a batch names are read together (`read_schedules`,
    four queries), and who is on call on each is worked out once.
    """

    def __init__(self, *, at: datetime | None = None):
        self.at = at or timezone.now()
        self._members: dict[int, list[Membership]] = {}
        self._reachable: dict[int, set[int]] = {}  # brand id -> ids of members with a channel or e-mail
        self._levels: dict[tuple, Reach] = {}
        self._on_call: dict[
            int, oncall.OnCall | None
        ] = {}  # schedule id -> who is on call (None: no such schedule)

    def read_schedules(self, schedule_ids) -> None:
        """Read who is on call at `at` on all of `schedule_ids` at once (those not read yet)."""
        missing = set(schedule_ids) - set(self._on_call)
        if missing:
            found = oncall.on_call(missing, at=self.at)
            self._on_call.update({pk: found.get(pk) for pk in missing})

    def on_call(self, brand_id: int, schedule_ids) -> tuple[oncall.OnCall, ...]:
        """Who is on call on each of a brand's `schedule_ids`; a deleted (or another brand's) one: nobody."""
        self.read_schedules(schedule_ids)
        result = []
        for pk in dict.fromkeys(schedule_ids):
            found = self._on_call.get(pk)
            if found is None or found.brand != brand_id:
                found = oncall.OnCall(schedule=pk, brand=brand_id, name="", users=())
            result.append(found)
        return tuple(result)

    def people(self, brand_id: int, roles=(), usernames=()) -> list:
        """Active members holding one of `roles` (or marked executive), or named; reachable or not."""
        return _named_people(self._brand(brand_id), roles, usernames)

    def level(self, brand_id: int, roles=(), usernames=(), schedules=(), *, fallback: bool = True) -> Reach:
        """
        Whom a level naming `roles`, `usernames` and `schedules` tells. With `fallback`, a
        level that reaches nobody tells the brand's managers instead (a level of managers
        alone has no one else to fall back on: pass `fallback=False`).
        """
        key = (brand_id, tuple(roles), tuple(usernames), tuple(schedules), fallback)
        if key not in self._levels:
            self._levels[key] = self._decide(brand_id, *key[1:])
        return self._levels[key]

    def _decide(self, brand_id, roles, usernames, schedules, fallback) -> Reach:
        on_call = self.on_call(brand_id, schedules) if schedules else ()
        on_duty = sorted({user for found in on_call for user in found.users})
        named = self.people(brand_id, roles, [*usernames, *on_duty])
        reachable = [user for user in named if user.pk in self._reachable[brand_id]]
        unreachable = tuple(user.get_username() for user in named if user.pk not in self._reachable[brand_id])
        if reachable:
            return Reach(users=reachable, unreachable=unreachable, on_call=on_call)
        if named:
            reason = NO_CHANNEL_OR_EMAIL
        elif schedules and not on_duty:
            reason = NOBODY_ON_CALL
        else:
            reason = NO_SUCH_MEMBER
        why = {"reason": reason, "roles": list(roles), "users": list(usernames)}
        if schedules:
            why["schedules"] = list(schedules)
            why["on_call"] = on_call_data(on_call)
        why["unreachable"] = list(unreachable)
        if not fallback:
            return Reach(users=[], nobody_reached=why, unreachable=unreachable, on_call=on_call)
        managers = [u for u in self.people(brand_id, MANAGERS) if u.pk in self._reachable[brand_id]]
        why["instead"] = [user.get_username() for user in managers]
        return Reach(users=managers, nobody_reached=why, unreachable=unreachable, on_call=on_call)

    def _brand(self, brand_id: int) -> list[Membership]:
        if brand_id not in self._members:
            members = list(
                Membership.objects.for_brands([brand_id])
                .filter(user__is_active=True)
                .select_related("user")
                .order_by("user__username")
            )
            ways = outbox.channels_of([m.user for m in members])
            self._members[brand_id] = members
            self._reachable[brand_id] = {pk for pk, found in ways.items() if found}
        return self._members[brand_id]


def on_call_data(on_call) -> list[dict]:
    """Who was on call, as an `escalated` event records it: `[{"schedule", "name", "users"}]`."""
    return [{"schedule": found.schedule, "name": found.name, "users": list(found.users)} for found in on_call]


def _named_people(members: list[Membership], roles, usernames) -> list:
    """
    The users among a brand's active `members` that a level names (as `outbox.recipients`
    picks them, from rows already read); whoever is on call on its schedules is among
    `usernames` (`Reacher._decide`).
    """
    roles, usernames = set(roles), set(usernames)
    executives = "executive" in roles
    return [
        m.user
        for m in members
        if m.role in roles or (executives and m.is_executive) or m.user.get_username() in usernames
    ]


def chain_reach(brand_id: int, chain: dict) -> list[tuple[int, Reach]]:
    """(level number, reach) of each level of `chain` as it would fire now, its repeats left out."""
    reacher = Reacher()
    levels = sorted(chain.get("levels") or [], key=lambda lvl: lvl["after_seconds"])
    reacher.read_schedules({pk for lvl in levels for pk in lvl.get("schedules") or ()})  # at once
    return [
        (
            number,
            reacher.level(
                brand_id, lvl.get("roles") or (), lvl.get("users") or (), lvl.get("schedules") or ()
            ),
        )
        for number, lvl in enumerate(levels, start=1)
    ]
