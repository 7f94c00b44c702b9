"""
The clock: SLA warnings, ack escalation levels and resolve-overdue alerts.

DESIGN.md, "the database is the clock": every pending timer is a column of
the incident (`sla_warning_at`, `next_escalation_at`, `resolve_escalation_at`).
`sweep()`, run by beat every tick, fires every due timer; `fire_due_timers()`
does the same for one incident when its ETA task arrives. Both end in the same
compare-and-set per timer, so a timer fires once however many sweepers,
ETA tasks and redeliveries race for it.
"""

import logging
import math
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from playbooks.models import ChecklistStep

from . import chain as chains
from . import outbox
from .models import (
    OPEN_STATES,
    ClockHeartbeat,
    Escalation,
    EscalationKind,
    EscalationPolicy,
    EventKind,
    Incident,
    State,
)
from .publish import publish_now, publish_on_commit
from .timeline import timeline_record

logger = logging.getLogger(__name__)

TIMER_COLUMNS = ("sla_warning_at", "next_escalation_at", "resolve_escalation_at",
                 "review_reminder_at")
HEARTBEAT = "sweeper"


# --- At filing ----------------------------------------------------------------------

def chain_for(brand_id: int) -> dict:
    """The brand's chain, to be snapshotted onto a new incident."""
    policy = EscalationPolicy.objects.filter(brand_id=brand_id).first()
    return policy.chain if policy is not None else chains.DEFAULT_CHAIN


def initial_timers(*, detected_at: datetime, ack_due_at: datetime, chain: dict) -> dict:
    """The timer columns of a newly filed incident."""
    return {
        "escalation_chain": chain,
        "next_escalation_at": chains.due_at_level(chain, ack_due_at, 0),
        "sla_warning_at": chains.warning_at(detected_at, ack_due_at, settings.SLA_WARNING_SHARE),
    }


def schedule_fast_path(incident: Incident, *, now: datetime) -> None:
    """After commit, publish an ETA task for the incident's next timer if it is due soon."""
    from .tasks import fire_due_timers

    due = min((t for t in (getattr(incident, c) for c in TIMER_COLUMNS) if t), default=None)
    window = timedelta(seconds=settings.ESCALATION_ETA_WINDOW_SECONDS)
    if due is not None and due <= now + window:
        publish_on_commit(fire_due_timers, args=(incident.pk,), eta=max(due, now))


# --- Firing --------------------------------------------------------------------------

def fire_due_timers(incident_id: int, *, now: datetime | None = None) -> int:
    """Fire whatever is due on one incident; a no-op if another worker holds it."""
    now = now or timezone.now()
    with transaction.atomic():
        incident = (Incident.all_brands.select_related("brand")
                    .select_for_update(skip_locked=True, of=("self",))
                    .filter(pk=incident_id).first())
        if incident is None:
            return 0
        return _fire(incident, now)


def sweep(*, now: datetime | None = None, batch: int | None = None,
          plan_ahead: bool = True) -> dict:
    """
    Fire every due timer, in batches. Beat's tick (`plan_ahead`) then schedules early
    sweeps for the timers due before the next tick; those early sweeps do not plan
    again, or each would schedule the next ones once more.
    """
    started = time.perf_counter()
    now = now or timezone.now()
    batch = batch or settings.ESCALATION_SWEEP_BATCH
    fired = 0
    due = Q()
    for column in TIMER_COLUMNS:
        due |= Q(**{f"{column}__lte": now})
    for _round in range(1000):  # bounded: a row that keeps coming back must not spin us forever
        with transaction.atomic():
            # skip_locked: concurrent sweepers (or an ETA task) split the rows
            # instead of queueing behind each other's locks.
            rows = list(Incident.all_brands.select_related("brand")
                        .select_for_update(skip_locked=True, of=("self",))
                        .filter(due).order_by("pk")[:batch])
            for incident in rows:
                fired += _fire_isolated(incident, now)
        if len(rows) < batch:
            break
    fired += _remind_overdue_steps(now)
    upcoming = _publish_upcoming(now) if plan_ahead else 0
    republished = outbox.republish_due(now=now)
    ClockHeartbeat.objects.update_or_create(name=HEARTBEAT, defaults={
        "beat_at": timezone.now(), "duration_seconds": time.perf_counter() - started})
    return {"fired": fired, "eta_published": upcoming, "republished": republished}


# Timers due within this much of each other share one early sweep.
UPCOMING_BUCKET_SECONDS = 0.25
MAX_UPCOMING_SWEEPS = 40


def _publish_upcoming(now: datetime) -> int:
    """
    Early sweeps for the timers due before the next tick, so they land on time.

    One sweep task per moment that timers fall due (in 250 ms buckets), not one
    task per incident: a thousand incidents due at once are then fired in a few
    batches by one sweep, instead of a thousand single-row tasks queued behind
    each other (measured: 27 s for 1,000 that way).
    """
    from .tasks import sweep_early

    horizon = now + timedelta(seconds=settings.ESCALATION_TICK_SECONDS)
    moments: set[datetime] = set()
    for column in TIMER_COLUMNS:
        # order_by(column): the model's default ordering would make DISTINCT useless
        # and keep the newest incidents' moments instead of the earliest.
        rows = (Incident.all_brands.filter(**{f"{column}__gt": now, f"{column}__lte": horizon})
                .order_by(column).values_list(column, flat=True).distinct()[:1000])
        for at in rows:
            bucket = math.ceil(at.timestamp() / UPCOMING_BUCKET_SECONDS) * UPCOMING_BUCKET_SECONDS
            moments.add(datetime.fromtimestamp(bucket, tz=at.tzinfo))
    for at in sorted(moments)[:MAX_UPCOMING_SWEEPS]:
        # Several at once: skip_locked splits the due rows between them, so every
        # worker process fires a share instead of one doing all.
        for _copy in range(settings.ESCALATION_PARALLEL_SWEEPS):
            publish_now(sweep_early, eta=at)
    return len(moments)


def _fire_isolated(incident: Incident, now: datetime) -> int:
    """`_fire` in a savepoint: a row that fails is logged and skipped, not the whole tick."""
    try:
        with transaction.atomic():
            return _fire(incident, now)
    except Exception:
        logger.exception("sweeper: incident %s could not be processed; skipped", incident.pk)
        return 0


def _fire(incident: Incident, now: datetime) -> int:
    """Fire the due timers of a row-locked incident. Call inside a transaction."""
    fired = 0
    if incident.sla_warning_at and incident.sla_warning_at <= now:
        fired += _fire_warning(incident, now)
    # Several levels may be overdue (the workers were down): fire them in order.
    while incident.next_escalation_at and incident.next_escalation_at <= now:
        if not _fire_ack_level(incident, now):
            break
        fired += 1
    if incident.resolve_escalation_at and incident.resolve_escalation_at <= now:
        fired += _fire_resolve_alert(incident, now)
    if incident.review_reminder_at and incident.review_reminder_at <= now:
        fired += _fire_review_reminder(incident, now)
    if fired:
        schedule_fast_path(incident, now=now)
    return fired


def _fire_warning(incident: Incident, now: datetime) -> int:
    due = incident.sla_warning_at
    won = Incident.all_brands.filter(
        pk=incident.pk, state=State.DETECTED, sla_warning_at=due
    ).update(sla_warning_at=None)
    incident.sla_warning_at = None
    if not won:
        return 0
    users = outbox.recipients(brand_id=incident.brand_id, roles=["responder"])
    left = max(0, int((incident.ack_due_at - now).total_seconds()))
    subject = _("[%(brand)s] Unclaimed for too long: %(title)s") % {
        "brand": incident.brand.name, "title": incident.title}
    _notify(incident, users, EventKind.SLA_WARNING, subject, now,
            extra={"seconds_left": left})
    timeline_record(incident=incident, kind=EventKind.SLA_WARNING, at=now,
                    data={"seconds_left": left,
                          "notified": [u.get_username() for u in users]})
    return 1


def _fire_ack_level(incident: Incident, now: datetime) -> bool:
    steps = chains.steps(incident.escalation_chain)
    level = incident.escalation_level
    if level >= len(steps):
        Incident.all_brands.filter(pk=incident.pk).update(next_escalation_at=None)
        incident.next_escalation_at = None
        return False
    step = steps[level]
    following = chains.due_at_level(incident.escalation_chain, incident.ack_due_at, level + 1)
    # The compare-and-set of DESIGN.md: only the caller that moves the level
    # from k to k+1 writes the record and the notifications.
    won = Incident.all_brands.filter(
        pk=incident.pk, state=State.DETECTED, escalation_level=level
    ).update(escalation_level=level + 1, next_escalation_at=following)
    if not won:
        # Someone else moved it (claimed, or fired this level): nothing more to do here.
        # (No refresh_from_db: django-fsm-2 makes it unsafe across threads.)
        incident.next_escalation_at = None
        return False
    incident.escalation_level, incident.next_escalation_at = level + 1, following
    users = outbox.recipients(brand_id=incident.brand_id, roles=step.roles,
                              usernames=step.users)
    names = [u.get_username() for u in users]
    Escalation.all_brands.create(
        incident=incident, kind=EscalationKind.ACK, level=step.level, fired_at=now,
        due_at=incident.ack_due_at + timedelta(seconds=step.offset_seconds), notified=names,
    )
    subject = _("[%(brand)s] Escalation level %(level)d: %(title)s") % {
        "brand": incident.brand.name, "level": step.level, "title": incident.title}
    _notify(incident, users, EventKind.ESCALATED, subject, now, extra={"level": step.level})
    timeline_record(incident=incident, kind=EventKind.ESCALATED, at=now,
                    data={"level": step.level, "notified": names})
    return True


def _fire_resolve_alert(incident: Incident, now: datetime) -> int:
    due = incident.resolve_escalation_at
    won = Incident.all_brands.filter(
        pk=incident.pk, state__in=[s for s in OPEN_STATES if s != State.DETECTED],
        resolve_escalation_at=due,
    ).update(resolve_escalation_at=None)
    incident.resolve_escalation_at = None
    if not won:
        return 0
    users = outbox.recipients(brand_id=incident.brand_id, roles=["manager"])
    names = [u.get_username() for u in users]
    Escalation.all_brands.create(incident=incident, kind=EscalationKind.RESOLVE, level=1,
                                 due_at=incident.resolve_due_at, fired_at=now, notified=names)
    subject = _("[%(brand)s] Not resolved in time: %(title)s") % {
        "brand": incident.brand.name, "title": incident.title}
    _notify(incident, users, EventKind.ESCALATED, subject, now,
            extra={"reason": "resolve_overdue"})
    timeline_record(incident=incident, kind=EventKind.ESCALATED, at=now,
                    data={"level": None, "reason": "resolve_overdue", "notified": names})
    return 1


def _fire_review_reminder(incident: Incident, now: datetime) -> int:
    due = incident.review_reminder_at
    won = Incident.all_brands.filter(
        pk=incident.pk, state=State.RESOLVED, review_reminder_at=due
    ).update(review_reminder_at=None)
    incident.review_reminder_at = None
    if not won:
        return 0
    users = outbox.recipients(brand_id=incident.brand_id, roles=["manager"])
    subject = _("[%(brand)s] Review is due: %(title)s") % {
        "brand": incident.brand.name, "title": incident.title}
    _notify(incident, users, EventKind.REVIEW_REMINDER, subject, now, extra={})
    timeline_record(incident=incident, kind=EventKind.REVIEW_REMINDER, at=now,
                    data={"notified": [u.get_username() for u in users]})
    return 1


def _notify(incident: Incident, users, reason: str, subject: str, now: datetime, *,
            extra: dict) -> None:
    link = f"{settings.SITE_URL.rstrip('/')}/api/v1/incidents/{incident.pk}/"
    body = _(
        "%(title)s\n\nBrand: %(brand)s\nSeverity: %(severity)s\nState: %(state)s\n"
        "Detected: %(detected)s\nAcknowledge by: %(ack_due)s\n\n%(link)s"
    ) % {"title": incident.title, "brand": incident.brand.name,
         "severity": incident.get_severity_display(), "state": incident.get_state_display(),
         "detected": f"{incident.detected_at:%Y-%m-%d %H:%M:%S} UTC",
         "ack_due": f"{incident.ack_due_at:%Y-%m-%d %H:%M:%S} UTC", "link": link}
    payload = {
        "event": reason, **extra,
        "incident": {"id": incident.pk, "brand": incident.brand.slug, "title": incident.title,
                     "severity": incident.severity, "state": incident.state,
                     "detected_at": incident.detected_at.isoformat(),
                     "ack_due_at": incident.ack_due_at.isoformat(), "url": link},
        "at": now.isoformat(),
    }
    outbox.enqueue(incident=incident, users=users, reason=reason, subject=subject, body=body,
                   payload=payload, now=now)


def _remind_overdue_steps(now: datetime) -> int:
    """One reminder per open checklist step past its due time, to the assignee."""
    reminded = 0
    overdue = (ChecklistStep.objects.filter(due_at__lte=now, completed_at__isnull=True,
                                            reminded_at__isnull=True)
               .exclude(incident__state=State.REVIEWED)
               .select_related("incident__brand", "incident__assignee").order_by("due_at"))
    for step in overdue[:settings.ESCALATION_SWEEP_BATCH]:
        with transaction.atomic():
            # Compare-and-set: of two sweepers, one reminds.
            if not ChecklistStep.objects.filter(pk=step.pk, reminded_at__isnull=True).update(
                    reminded_at=now):
                continue
            incident = step.incident
            users = ([incident.assignee] if incident.assignee_id else
                     outbox.recipients(brand_id=incident.brand_id, roles=["responder"]))
            subject = _("[%(brand)s] Step overdue: %(step)s (%(title)s)") % {
                "brand": incident.brand.name, "step": step.title, "title": incident.title}
            _notify(incident, users, EventKind.STEP_OVERDUE, subject, now,
                    extra={"step": {"id": step.pk, "title": step.title,
                                    "due_at": step.due_at.isoformat()}})
            timeline_record(incident=incident, kind=EventKind.STEP_OVERDUE, at=now,
                            data={"step": step.pk, "title": step.title,
                                  "notified": [u.get_username() for u in users]})
            reminded += 1
    return reminded


def heartbeat_age(now: datetime | None = None) -> float | None:
    """Seconds since the sweeper last ran, or None if it never has."""
    row = ClockHeartbeat.objects.filter(name=HEARTBEAT).first()
    if row is None:
        return None
    return ((now or timezone.now()) - row.beat_at).total_seconds()
