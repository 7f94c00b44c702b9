"""
Who an escalation level reaches, and what happens when that is nobody.

A level names roles (`executive`: the members marked as key communicators) and users.
The people it names are reached through their channels, or else their account e-mail
(`outbox.channels_of`); someone with neither is named but told nothing. API.md's one
rule for every level: a level that reaches nobody notifies the brand's managers
instead, and its `escalated` event says why in `data.nobody_reached`:

    {"reason": "no_such_member" | "no_channel_or_email" | "nobody_on_call",
     "roles": [...], "users": [...],   # what the level named
     "unreachable": [...],             # its members without a channel or e-mail
     "instead": [...]}                 # the managers told in its place ([] : none could be)

On-call schedules are a later issue; their seam is `_named_people`: whoever is on call
on each of a level's schedules joins the people named there, and a level whose
schedules have nobody on call (and names nobody else) gets the reason `nobody_on_call`.

The clock asks this when a level fires; the console asks it ahead of time, to warn on a
brand's settings and an incident's page of a level that would reach nobody today.
"""

from dataclasses import dataclass, field

from crisis.models import Membership

from . import outbox

# The reasons a level reached nobody: stable codes for machines (`data.nobody_reached.reason`);
# people read the sentences `messages.nobody_reached_reason` makes of them.
NO_SUCH_MEMBER = "no_such_member"  # no active member holds the roles or is one of the users
NO_CHANNEL_OR_EMAIL = "no_channel_or_email"  # its members have no channel and no e-mail
NOBODY_ON_CALL = "nobody_on_call"  # with on-call schedules: nobody on call when it fired

MANAGERS = ("manager",)


@dataclass(frozen=True)
class Reach:
    """Whom one level tells: `users` (its own reachable people, else the brand's reachable managers)."""

    users: list
    nobody_reached: dict | None = None  # None: the level reached someone of its own
    unreachable: tuple[str, ...] = field(default=())  # named members told nothing: no channel, no e-mail

    @property
    def usernames(self) -> list[str]:
        return [user.get_username() for user in self.users]


class Reacher:
    """
    Answers "whom does this level reach?" for one batch of alerts or one page. Each brand's
    active members and their ways of being reached are read once (two queries), whatever
    the number of levels, incidents or people asked about.
    """

    def __init__(self):
        self._members: dict[int, list[Membership]] = {}
        self._reachable: dict[int, set[int]] = {}  # brand id -> ids of members with a channel or e-mail
        self._levels: dict[tuple, Reach] = {}

    def people(self, brand_id: int, roles=(), usernames=()) -> list:
        """Active members holding one of `roles` (or marked executive), or named; reachable or not."""
        return _named_people(self._brand(brand_id), roles, usernames)

    def level(self, brand_id: int, roles=(), usernames=(), *, fallback: bool = True) -> Reach:
        """
        Whom a level naming `roles` and `usernames` tells. With `fallback`, a level that
        reaches nobody tells the brand's managers instead (a level of managers alone has
        no one else to fall back on: pass `fallback=False`).
        """
        key = (brand_id, tuple(roles), tuple(usernames), fallback)
        if key not in self._levels:
            self._levels[key] = self._decide(brand_id, tuple(roles), tuple(usernames), fallback)
        return self._levels[key]

    def _decide(self, brand_id, roles, usernames, fallback) -> Reach:
        named = self.people(brand_id, roles, usernames)
        reachable = [user for user in named if user.pk in self._reachable[brand_id]]
        unreachable = tuple(user.get_username() for user in named if user.pk not in self._reachable[brand_id])
        if reachable:
            return Reach(users=reachable, unreachable=unreachable)
        why = {
            "reason": NO_CHANNEL_OR_EMAIL if named else NO_SUCH_MEMBER,
            "roles": list(roles),
            "users": list(usernames),
            "unreachable": list(unreachable),
        }
        if not fallback:
            return Reach(users=[], nobody_reached=why, unreachable=unreachable)
        managers = [u for u in self.people(brand_id, MANAGERS) if u.pk in self._reachable[brand_id]]
        why["instead"] = [user.get_username() for user in managers]
        return Reach(users=managers, nobody_reached=why, unreachable=unreachable)

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


def _named_people(members: list[Membership], roles, usernames) -> list:
    """
    The users among a brand's active `members` that a level names (as `outbox.recipients`
    picks them, from rows already read). The seam for on-call schedules (a later issue):
    whoever is on call on each of the level's schedules when it fires joins them here.
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
    return [
        (number, reacher.level(brand_id, lvl.get("roles") or (), lvl.get("users") or ()))
        for number, lvl in enumerate(levels, start=1)
    ]
