"""
On-call schedules as stored: the only writers of schedules, overrides and calendar-feed
tokens, and the readers that turn rows into `shifts.Plan`s (the maths is in `shifts.py`).

Readers are set-wise: `plans()` reads any number of schedules with a fixed number of
queries (schedules, layers, their places, overrides), which the escalation clock relies
on when a batch of levels naming schedules fires (`incidents/reach.py`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from api.errors import Forbidden, InvalidInput

from . import shifts, timezones
from .models import (
    Brand,
    CalendarFeed,
    Membership,
    Role,
    Schedule,
    ScheduleLayer,
    ScheduleLayerMember,
    ScheduleOverride,
)
from .tenancy import Principal

User = get_user_model()

# Who may be on call: API.md, "Users must be responders or managers of the brand".
ON_CALL_ROLES = (Role.RESPONDER, Role.MANAGER)
NOT_ON_CALL_MEMBERS = gettext_lazy("Not responders or managers of this brand: %(people)s")
MAX_OVERRIDE = timedelta(days=366)


# --- Reading -------------------------------------------------------------------------


def with_rows(schedules: QuerySet, *, overrides_from: datetime | None = None, until=None) -> QuerySet:
    """
    `schedules` with their layers, places and overrides read along (three more queries,
    however many schedules). Overrides: those ending after `overrides_from` and starting
    before `until` (either None: no bound).
    """
    overrides = ScheduleOverride.all_brands.select_related("user", "created_by").order_by("start", "id")
    if overrides_from is not None:
        overrides = overrides.filter(end__gt=overrides_from)
    if until is not None:
        overrides = overrides.filter(start__lt=until)
    places = ScheduleLayerMember.all_brands.select_related("user").order_by("position")
    return schedules.prefetch_related(
        Prefetch("layers", queryset=ScheduleLayer.all_brands.order_by("position")),
        Prefetch("layers__members", queryset=places),
        Prefetch("overrides", queryset=overrides),
    )


def plan_of(schedule: Schedule) -> shifts.Plan:
    """The maths' view of a schedule read `with_rows`; overrides oldest first (a later one wins)."""
    layers = tuple(
        shifts.Layer(
            users=tuple(place.user.get_username() for place in layer.members.all()),
            start=layer.start,
            every=layer.shift_every,
            unit=layer.shift_unit,
            restrictions=tuple(restriction(r) for r in layer.restrictions),
            name=layer.name,
        )
        for layer in schedule.layers.all()
    )
    overrides = tuple(
        shifts.Override(user=o.user.get_username(), start=o.start, end=o.end, key=o.pk)
        for o in sorted(schedule.overrides.all(), key=lambda o: o.pk)
    )
    return shifts.Plan(zone=timezones.zone(schedule.time_zone), layers=layers, overrides=overrides)


def restriction(stored: dict) -> shifts.Restriction:
    """A stored `{"days", "from", "to"}` as the maths takes it."""
    return shifts.Restriction(
        days=frozenset(shifts.DAYS.index(day) for day in stored["days"]),
        start=time.fromisoformat(stored["from"]),
        end=time.fromisoformat(stored["to"]),
    )


@dataclass(frozen=True)
class OnCall:
    """Who was on call on one schedule at one instant (what an escalation records)."""

    schedule: int
    brand: int
    name: str
    users: tuple[str, ...]


def on_call(schedule_ids, *, at: datetime) -> dict[int, OnCall]:
    """Who is on call at `at` on each of `schedule_ids` (any brand's: the caller checks whose); 4 queries."""
    rows = with_rows(
        Schedule.all_brands.filter(pk__in=list(schedule_ids)),
        overrides_from=at,
        until=at + timedelta(seconds=1),
    )
    return {
        s.pk: OnCall(
            schedule=s.pk, brand=s.brand_id, name=s.name, users=tuple(shifts.on_call(plan_of(s), at))
        )
        for s in rows
    }


def schedules_of(brand: Brand) -> QuerySet:
    return Schedule.objects.for_brands([brand.pk])


# --- Writing -------------------------------------------------------------------------


def schedule_create(*, brand: Brand, name: str, time_zone: str, layers: list[dict]) -> Schedule:
    """A new schedule (the caller has checked the manager's role); `layers` as API.md shapes them."""
    with transaction.atomic():
        members = _on_call_members(brand, layers)
        try:
            with transaction.atomic():
                schedule = Schedule.objects.create(
                    brand=brand, name=name, time_zone=time_zone, next_handoff_at=timezone.now()
                )
        except IntegrityError:
            raise InvalidInput(_("A schedule with this name already exists."), field="name") from None
        _write_layers(schedule, layers, members)
    return schedule


def schedule_update(*, schedule: Schedule, name: str, time_zone: str, layers: list[dict]) -> Schedule:
    """Replace a schedule's name, zone and layers; its overrides stay."""
    with transaction.atomic():
        # Two managers saving at once: one after the other, never layers of both.
        Schedule.all_brands.select_for_update().filter(pk=schedule.pk).first()
        members = _on_call_members(schedule.brand, layers)
        schedule.name, schedule.time_zone, schedule.updated_at = name, time_zone, timezone.now()
        # Who is on call may have changed: the hand-off clock looks again at once.
        schedule.next_handoff_at = schedule.updated_at
        try:
            with transaction.atomic():
                schedule.save(update_fields=["name", "time_zone", "updated_at", "next_handoff_at"])
        except IntegrityError:
            raise InvalidInput(_("A schedule with this name already exists."), field="name") from None
        ScheduleLayer.all_brands.filter(schedule=schedule).delete()
        _write_layers(schedule, layers, members)
    return schedule


def schedule_delete(*, schedule: Schedule) -> None:
    """
    Delete a schedule and its overrides. An escalation level still naming it finds nobody
    on call there, and API.md's one rule tells the managers instead (the brand's settings
    page warns of such a level ahead of time).
    """
    schedule.delete()


def _on_call_members(brand: Brand, layers: list[dict]) -> dict[str, object]:
    """The users the layers name, by username; a 400 on `layers` naming those who may not be on call."""
    named = {username for layer in layers for username in layer["users"]}
    return _eligible(brand, named, field="layers")


def _eligible(brand: Brand, usernames: set[str], *, field: str) -> dict[str, object]:
    rows = (
        Membership.objects.for_brands([brand.pk])
        .filter(user__username__in=usernames, role__in=ON_CALL_ROLES, user__is_active=True)
        .select_related("user")
    )
    found = {m.user.get_username(): m.user for m in rows}
    missing = sorted(usernames - set(found))
    if missing:
        raise InvalidInput(str(NOT_ON_CALL_MEMBERS % {"people": ", ".join(missing)[:500]}), field=field)
    return found


def _write_layers(schedule: Schedule, layers: list[dict], members: dict[str, object]) -> None:
    rows = ScheduleLayer.all_brands.bulk_create(
        [
            ScheduleLayer(
                schedule=schedule,
                position=n,
                name=layer.get("name") or _("Layer %(n)d") % {"n": n},
                start=layer["start"],
                shift_every=layer["shift"]["every"],
                shift_unit=layer["shift"]["unit"],
                restrictions=layer.get("restrictions") or [],
            )
            for n, layer in enumerate(layers, start=1)
        ]
    )
    if not all(row.pk for row in rows):  # backends that return no ids from bulk_create
        rows = list(ScheduleLayer.all_brands.filter(schedule=schedule).order_by("position"))
    ScheduleLayerMember.all_brands.bulk_create(
        [
            ScheduleLayerMember(layer=row, position=place, user=members[username])
            for row, layer in zip(rows, layers, strict=True)
            for place, username in enumerate(layer["users"])
        ]
    )


def override_add(
    *, principal: Principal, schedule: Schedule, username: str, start: datetime, end: datetime, now: datetime
) -> ScheduleOverride:
    """
    Someone takes [start, end) of a schedule: a manager may put any responder or manager
    there; a responder only themselves (API.md: "a manager, or the person taking the shift").
    """
    brand_id = schedule.brand_id
    taking_it_myself = principal.has_role(brand_id, Role.RESPONDER) and principal.label == username
    if not (principal.has_role(brand_id, Role.MANAGER) or taking_it_myself):
        raise Forbidden(_("Only a manager, or the person taking the shift, may add an override."))
    if end <= start:
        raise InvalidInput(_("The end must come after the start."), field="end")
    if end <= now:
        raise InvalidInput(_("This override has already ended: it would change nothing."), field="end")
    if end - start > MAX_OVERRIDE:
        raise InvalidInput(_("An override may last at most 366 days."), field="end")
    user = _eligible(schedule.brand, {username}, field="user")[username]
    with transaction.atomic():
        override = ScheduleOverride.all_brands.create(
            schedule=schedule, user=user, start=start, end=end, created_by=principal.user, created_at=now
        )
        _look_again(schedule, now=now)
    return override


def override_remove(*, principal: Principal, override: ScheduleOverride) -> None:
    """Delete an override: a manager, or the person who took the shift."""
    brand_id = override.schedule.brand_id
    if not (principal.has_role(brand_id, Role.MANAGER) or principal.user_id == override.user_id):
        raise Forbidden(_("Only a manager, or the person who took the shift, may remove an override."))
    with transaction.atomic():
        override.delete()
        _look_again(override.schedule, now=timezone.now())


def _look_again(schedule: Schedule, *, now: datetime) -> None:
    """
    Who is on call may have changed: the hand-off clock (incidents/handoffs.py) looks at
    the schedule at once. Written after the change, in its transaction: a sweeper that read
    the schedule before it either still holds the row (this waits, then wins) or has
    committed (this comes later and wins).
    """
    Schedule.all_brands.filter(pk=schedule.pk).update(next_handoff_at=now)


# --- Calendar-feed tokens ------------------------------------------------------------


def calendar_token_issue(*, user) -> str:
    """A new feed token for `user` (the old one stops working); returns it: only its digest is kept."""
    token = secrets.token_urlsafe(32)
    CalendarFeed.objects.update_or_create(
        user=user, defaults={"token_hash": CalendarFeed.digest(token), "created_at": timezone.now()}
    )
    return token


def calendar_token_revoke(*, user) -> None:
    CalendarFeed.objects.filter(user=user).delete()


def calendar_feed_owner(token: str | None):
    """The active user whose current feed token this is, or None (wrong, revoked or missing)."""
    if not token or len(token) > 200:
        return None
    feed = (
        CalendarFeed.objects.select_related("user")
        .filter(token_hash=CalendarFeed.digest(token), user__is_active=True)
        .first()
    )
    return feed.user if feed else None


def feed_schedules(user, *, schedule_id: int | None = None) -> QuerySet:
    """The schedules a feed token's owner may see: those of their brands (one of them, with `schedule_id`)."""
    rows = Schedule.objects.visible_to(Principal.for_user(user)).select_related("brand")
    if schedule_id is not None:
        rows = rows.filter(pk=schedule_id)
    return rows
