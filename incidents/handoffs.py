"""
Shift hand-offs: when someone comes on call, they are told through their channels, with
the open incidents of the brand they now cover (issue 21, item 5; docs/oncall.md).

On the database clock like every timer of the desk (DESIGN.md): `Schedule.next_handoff_at`
is the due column (partial index), `Schedule.announced_on_call` whom the messages last
announced. Each sweep claims the due schedules (`select_for_update(skip_locked=True)`),
asks who is on call now, and in one transaction, with a compare-and-set on both columns,
moves the clock to the next hand-off and writes the message to the outbox if a turn began
since the hand-off that was due (or someone other than the last announced is on call). So
a hand-off is announced once however many sweepers race, a worker that dies mid-way
leaves the row due for the next one, and one that comes back after missing hand-offs
tells only whoever is on call by then (a shift already over is not announced).

Every write of a schedule or its overrides sets `next_handoff_at` to now
(`crisis.oncall._look_again`): an override that makes someone else on call now is a
hand-off at once; one that starts later moves the clock to its start.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from crisis import oncall, shifts, timezones
from crisis.models import Membership, Schedule

from . import messages, outbox
from .models import OPEN_STATES, Incident
from .selectors import queue_order

logger = logging.getLogger(__name__)

REASON = "handoff"
# How far ahead a sweep looks for the next hand-off; a schedule with none in sight is
# looked at again then.
LOOKAHEAD = timedelta(days=14)
# The open incidents a hand-off message lists (then "…and N more").
LISTED = 20


def sweep(*, now: datetime | None = None, batch: int | None = None) -> int:
    """Announce every due hand-off, in batches; returns the messages written (one per person told)."""
    batch = batch or settings.ESCALATION_SWEEP_BATCH
    told = 0
    for _round in range(1000):  # bounded, as the clock's own sweep
        with transaction.atomic():
            at = now or timezone.now()
            rows = list(
                Schedule.all_brands.select_for_update(skip_locked=True)
                .filter(next_handoff_at__lte=at)
                .order_by("next_handoff_at")[:batch]
            )
            if rows:
                told += hand_over(rows, now=at)
        if len(rows) < batch:
            break
    return told


def hand_over(claimed: list[Schedule], *, now: datetime) -> int:
    """
    For schedules the caller holds locked and whose clock is due: who is on call at `now`,
    the next hand-off, and a message to whoever came on. A fixed number of queries for the
    batch (the schedules' rows, the people, the open incidents) plus one UPDATE each.
    """
    earliest = min(row.next_handoff_at for row in claimed)
    schedules = {
        s.pk: s
        for s in oncall.with_rows(
            Schedule.all_brands.filter(pk__in=[s.pk for s in claimed]).select_related("brand"),
            overrides_from=earliest,
            until=now + LOOKAHEAD,
        )
    }
    incoming: list[tuple[Schedule, shifts.Shift]] = []
    for row in claimed:
        due = row.next_handoff_at
        schedule = schedules[row.pk]
        # From just before the hand-off that was due: a turn that began since is a new one.
        since = min(due, now) - timedelta(microseconds=1)
        turns = shifts.turns(shifts.final_shifts(oncall.plan_of(schedule), since, now + LOOKAHEAD))
        current = next((t for t in turns if t.start <= now < t.end), None)
        following = [t.start for t in turns if t.start > now]
        on_call = current.user if current else ""
        # Someone new on call, or the same person's next turn (after someone else's that no
        # sweep saw: no worker ran): a turn that began at or after the due hand-off.
        new_turn = current is not None and (on_call != row.announced_on_call or current.start >= due)
        # Compare-and-set: the sweeper that moves the clock announces; a row changed since
        # it was read (only possible without row locks) is left for the next sweep.
        moved = Schedule.all_brands.filter(
            pk=row.pk, next_handoff_at=due, announced_on_call=row.announced_on_call
        ).update(next_handoff_at=following[0] if following else now + LOOKAHEAD, announced_on_call=on_call)
        if moved and new_turn:
            incoming.append((schedule, current))
    if incoming:
        outbox.enqueue(_messages(incoming, now=now), now=now)
    return len(incoming)


def _messages(incoming: list[tuple[Schedule, shifts.Shift]], *, now: datetime) -> list[outbox.Message]:
    """One message per person coming on call, in their language, times in their zone."""
    brand_ids = {s.brand_id for s, _turn in incoming}
    # Who may be told: still an active responder or manager of the brand (a layer may name
    # someone who has left it since; they are not told about its incidents).
    people = {
        (m.brand_id, m.user.get_username()): m.user
        for m in Membership.objects.for_brands(brand_ids)
        .filter(
            role__in=oncall.ON_CALL_ROLES,
            user__is_active=True,
            user__username__in={turn.user for _s, turn in incoming},
        )
        .select_related("user", "user__desk_profile")
    }
    open_incidents: dict[int, list[Incident]] = {b: [] for b in brand_ids}
    for incident in queue_order(
        Incident.all_brands.filter(brand_id__in=brand_ids, state__in=OPEN_STATES).select_related("brand")
    ):
        open_incidents[incident.brand_id].append(incident)
    found = []
    for schedule, turn in incoming:
        user = people.get((schedule.brand_id, turn.user))
        if user is None:
            logger.info(
                "hand-off on schedule %s: %s is no longer on call there; not told", schedule.pk, turn.user
            )
            continue
        profile = getattr(user, "desk_profile", None)
        language = (profile.language if profile else "") or schedule.brand.language
        zone = timezones.zone((profile.time_zone if profile else "") or schedule.time_zone)
        until = turn.end if turn.end < now + LOOKAHEAD else None
        listed = open_incidents[schedule.brand_id]
        with translation.override(language):
            found.append(
                outbox.Message(
                    incident=None,
                    brand_id=schedule.brand_id,
                    users=[user],
                    reason=REASON,
                    subject=messages.handoff_subject(schedule),
                    body=messages.handoff_body(
                        schedule=schedule,
                        until=until,
                        zone=zone,
                        incidents=listed[:LISTED],
                        total=len(listed),
                        labels=messages.display_labels(),
                    ),
                    payload=messages.handoff_payload(
                        schedule=schedule,
                        user=user,
                        start=now,
                        until=until,
                        incidents=listed[:LISTED],
                        total=len(listed),
                    ),
                )
            )
    return found
