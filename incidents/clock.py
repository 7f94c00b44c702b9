"""
The clock: SLA warnings, ack escalation levels, resolve-overdue alerts, review reminders,
status-update reminders, public statements' approval hops and (through `handoffs.py`)
shift hand-offs.

DESIGN.md, "the database is the clock": every pending timer is a column of
the incident (`sla_warning_at`, `next_escalation_at`, `resolve_escalation_at`,
`review_reminder_at`, `update_due_at`), or of a statement (`hop_due_at`: its current
approval hop runs out of time).
`sweep()`, run by beat every tick, fires every due timer; `fire_due_timers()`
does the same for one incident when its ETA task arrives. Both end in the same
compare-and-set per timer, so a timer fires once however many sweepers,
ETA tasks and redeliveries race for it.
"""

import json
import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Case, DateTimeField, F, Q, Value, When, prefetch_related_objects
from django.utils import timezone

from crisis.models import Schedule
from playbooks.models import ChecklistStep

from . import chain as chains
from . import handoffs, heartbeat, messages, outbox, reach, selectors, sla
from .models import (
    OPEN_STATES,
    ClockHeartbeat,
    DecisionKind,
    Escalation,
    EscalationKind,
    EventKind,
    Incident,
    State,
    Statement,
    StatementDecision,
    StatementState,
)
from .publish import TASKS, publish_now, publish_on_commit
from .timeline import timeline_system_events

logger = logging.getLogger(__name__)

# In the order the sweeper drains them: escalations first, so that a storm of
# warnings or reminders never holds up the alerts that matter most.
TIMER_COLUMNS = (
    "next_escalation_at",
    "resolve_escalation_at",
    "sla_warning_at",
    "update_due_at",
    "review_reminder_at",
)
HEARTBEAT = "sweeper"


# --- At filing ----------------------------------------------------------------------


def initial_timers(*, detected_at: datetime, ack_due_at: datetime, chain: dict) -> dict:
    """The timer columns of a newly filed incident."""
    return {
        "escalation_chain": chain,
        "next_escalation_at": chains.due_at_level(chain, ack_due_at, 0),
        "sla_warning_at": chains.warning_at(detected_at, ack_due_at, settings.SLA_WARNING_SHARE),
    }


def schedule_fast_path(incident: Incident, *, now: datetime) -> None:
    """After commit, publish an ETA task for the incident's next timer if it is due soon."""
    due = min((t for t in (getattr(incident, c) for c in TIMER_COLUMNS) if t), default=None)
    window = timedelta(seconds=settings.ESCALATION_ETA_WINDOW_SECONDS)
    if due is not None and due <= now + window:
        publish_on_commit(TASKS.FIRE_DUE_TIMERS, args=(incident.pk,), eta=max(due, now))


# --- Firing --------------------------------------------------------------------------


def fire_due_timers(incident_id: int, *, now: datetime | None = None) -> int:
    """Fire whatever is due on one incident; a no-op if another worker holds it."""
    now = now or timezone.now()
    with transaction.atomic():
        incident = (
            Incident.all_brands.select_related("brand")
            .select_for_update(skip_locked=True, of=("self",))
            .filter(pk=incident_id)
            .first()
        )
        if incident is None:
            return 0
        return _fire([incident], now)


def fire_locked(incident: Incident, *, now: datetime) -> int:
    """
    Fire what is due on an incident the caller holds row-locked, in the caller's transaction.

    For a change that puts a deadline in the past (a severity raised on an old complaint):
    it fires at once, through the same compare-and-set as the sweeper, so a sweep or an
    ETA task racing with the caller fires nothing twice (they skip the locked row, and
    find nothing due once it is committed).
    """
    return _fire([incident], now)


def sweep(*, now: datetime | None = None, batch: int | None = None, plan_ahead: bool = True) -> dict:
    """
    Fire every due timer, in batches. Beat's tick (`plan_ahead`) then schedules early
    sweeps for the timers due before the next tick; those early sweeps do not plan
    again, or each would schedule the next ones once more.

    Each timer column is claimed on its own, oldest first, so that every claim is a
    range scan of that column's partial index (an OR over the four columns made
    PostgreSQL walk the primary key under a large backlog; figures in
    docs/benchmarks.md, sweeper_cost). `now` is taken per batch (unless given), so a
    long sweep keeps picking up what fell due while it ran.
    """
    started = time.perf_counter()
    batch = batch or settings.ESCALATION_SWEEP_BATCH
    fired = 0
    failed: set[int] = set()  # rows that raised: skipped for the rest of this sweep
    for column in TIMER_COLUMNS:
        for _round in range(1000):  # bounded: a row that keeps coming back must not spin us forever
            with transaction.atomic():
                at = now or timezone.now()
                # skip_locked: concurrent sweepers (or an ETA task) split the rows
                # instead of queueing behind each other's locks.
                rows = list(
                    Incident.all_brands.select_related("brand")
                    .select_for_update(skip_locked=True, of=("self",))
                    .filter(**{f"{column}__lte": at})
                    .exclude(pk__in=failed)
                    .order_by(column)[:batch]
                )
                if rows:
                    fired += _fire_isolated(rows, at, failed)
            if len(rows) < batch:
                break
    fired += _sweep_statement_hops(now, batch)
    handed_over = 0
    try:
        # Hand-offs after the incidents' timers: an escalation never waits behind them.
        handed_over = handoffs.sweep(now=now, batch=batch)
    except Exception:
        logger.exception("sweeper: shift hand-offs failed; the schedules stay due for the next tick")
    at = now or timezone.now()
    fired += _remind_overdue_steps(at)
    upcoming = _publish_upcoming(at) if plan_ahead else 0
    republished = outbox.republish_due(now=at)
    ClockHeartbeat.objects.update_or_create(
        name=HEARTBEAT,
        defaults={"beat_at": timezone.now(), "duration_seconds": time.perf_counter() - started},
    )
    heartbeat.ping_soon()  # the dead-man's switch outside the desk; on a thread of its own
    return {"fired": fired, "handoffs": handed_over, "eta_published": upcoming, "republished": republished}


# Timers due within this much of each other share one early sweep.
UPCOMING_BUCKET_SECONDS = 0.25
MAX_UPCOMING_SWEEPS = 40


def _publish_upcoming(now: datetime) -> int:
    """
    Early sweeps for the timers due before the next tick, so they land on time.

    One sweep task per moment that timers fall due (in 250 ms buckets), not one
    task per incident: a thousand incidents due at once are then fired in a few
    batches by one sweep, instead of a thousand single-row tasks queued behind
    each other (docs/benchmarks.md, escalation_lateness).
    """
    horizon = now + timedelta(seconds=settings.ESCALATION_TICK_SECONDS)
    moments: set[datetime] = set()
    # The incidents' timers; statements' approval hops and schedules' shift hand-offs
    # (incidents/handoffs.py) are timers of their own tables.
    timers = [
        *((Incident, column) for column in TIMER_COLUMNS),
        (Statement, "hop_due_at"),
        (Schedule, "next_handoff_at"),
    ]
    for model, column in timers:
        # order_by(column): the model's default ordering would make DISTINCT useless
        # and keep the newest rows' moments instead of the earliest.
        rows = (
            model.all_brands.filter(**{f"{column}__gt": now, f"{column}__lte": horizon})
            .order_by(column)
            .values_list(column, flat=True)
            .distinct()[:1000]
        )
        moments.update(_bucket(at) for at in rows)
    for at in sorted(moments)[:MAX_UPCOMING_SWEEPS]:
        # Several at once: skip_locked splits the due rows between them, so every
        # worker process fires a share instead of one doing all.
        for _copy in range(settings.ESCALATION_PARALLEL_SWEEPS):
            publish_now(TASKS.SWEEP_EARLY, eta=at)
    return len(moments)


def _bucket(at: datetime) -> datetime:
    """The early sweep a timer due at `at` waits for (`UPCOMING_BUCKET_SECONDS` apart)."""
    bucket = math.ceil(at.timestamp() / UPCOMING_BUCKET_SECONDS) * UPCOMING_BUCKET_SECONDS
    return datetime.fromtimestamp(bucket, tz=at.tzinfo)


def _fire_isolated(incidents: list[Incident], now: datetime, failed: set[int]) -> int:
    """
    `_fire` for a claimed batch in a savepoint. If the batch fails, each row is tried
    on its own, so that one bad row is logged, added to `failed` and skipped, and the
    others still fire.
    """
    try:
        with transaction.atomic():
            return _fire(incidents, now)
    except Exception:
        if len(incidents) == 1:
            logger.exception("sweeper: incident %s could not be processed; skipped", incidents[0].pk)
            failed.add(incidents[0].pk)
            return 0
        logger.exception("sweeper: a batch of %d failed; firing its rows one by one", len(incidents))
    # Read again: the savepoint rolled the database back, not the objects `_fire`
    # already moved on in memory. The rows are still locked by this transaction.
    fresh = (
        Incident.all_brands.select_related("brand").filter(pk__in=[i.pk for i in incidents]).order_by("pk")
    )
    return sum(_fire_isolated([incident], now, failed) for incident in fresh)


@dataclass
class _Alert:
    """One timer that fired on one incident: what to record and whom to tell."""

    incident: Incident
    kind: str  # EventKind: the timeline event and the notifications' reason
    users: list
    subject: str
    payload: dict  # added to the notification payload
    data: dict  # the timeline event's data ("notified" and "recipients" are added)
    escalation: Escalation | None = None


def _fire(incidents: list[Incident], now: datetime) -> int:
    """
    Fire the due timers of row-locked incidents, set-wise. Call inside a transaction.

    Per timer kind, one compare-and-set UPDATE moves all the due rows (the rows are
    locked, so it wins for all of them; if it does not, `_compare_and_set` sorts out
    which), then the escalation, notification and timeline rows are written with one
    INSERT each. Set-wise is what lets 10,000 due at once land in seconds; row by row
    they would queue for minutes (docs/benchmarks.md, sweeper_cost).
    """
    # Whoever is on call is asked about at `now`, the instant the levels fire.
    who = reach.Reacher(at=now)
    alerts = (
        _fire_warnings(incidents, now, who)
        + _fire_ack_levels(incidents, now, who)
        + _fire_resolve_alerts(incidents, now, who)
        + _fire_update_reminders(incidents, now)
        + _fire_review_reminders(incidents, now, who)
    )
    _record(alerts, now)
    for incident in {a.incident.pk: a.incident for a in alerts}.values():
        schedule_fast_path(incident, now=now)
    return len(alerts)


def _record(alerts: list[_Alert], now: datetime) -> None:
    """The escalation, notification and timeline rows of fired timers: one INSERT each."""
    if not alerts:
        return
    Escalation.all_brands.bulk_create([a.escalation for a in alerts if a.escalation])
    # The bodies name who holds the incidents' roles: read once for the batch, not per alert.
    prefetch_related_objects(
        [
            a.incident
            for a in alerts
            if a.incident.commander_id or a.incident.comms_lead_id or a.incident.scribe_id
        ],
        *messages.ROLE_COLUMNS.values(),
    )
    labels = messages.display_labels()
    sent = [
        outbox.Message(
            incident=a.incident,
            users=a.users,
            reason=a.kind,
            subject=a.subject,
            body=messages.body(a.incident, labels),
            payload=messages.payload(a.incident, a.kind, a.payload, now),
        )
        for a in alerts
    ]
    outbox.enqueue(sent, now=now)
    # Each event names the notifications written for it: the timeline shows whether each
    # one was delivered (the `notified` events of its attempts carry the same id).
    timeline_system_events(
        [
            (
                a.incident,
                a.kind,
                {
                    **a.data,
                    "notified": [u.get_username() for u in a.users],
                    "recipients": [
                        {
                            "username": row.recipient.get_username(),
                            "channel": row.channel,
                            "notification": row.pk,
                        }
                        for row in message.notifications
                    ],
                },
            )
            for a, message in zip(alerts, sent, strict=True)
        ],
        at=now,
    )


class _Contended(Exception):
    pass


def _compare_and_set(incidents: list[Incident], condition: Q, **values) -> list[Incident]:
    """
    UPDATE the rows still matching `condition`; return the incidents that were moved.

    The compare-and-set of DESIGN.md, for a whole group at once: only the caller that
    moves a timer writes its records and notifications. The rows are normally locked
    by our claim, so all of them match; if some do not (another writer got there
    first), the group is rolled back and settled row by row.
    """
    if not incidents:
        return []
    try:
        with transaction.atomic():
            moved = Incident.all_brands.filter(condition, pk__in=[i.pk for i in incidents]).update(**values)
            if moved != len(incidents):
                raise _Contended
        return incidents
    except _Contended:
        return [i for i in incidents if Incident.all_brands.filter(condition, pk=i.pk).update(**values)]


def _due(incidents, column: str, now: datetime, states) -> list[Incident]:
    return [i for i in incidents if getattr(i, column) and getattr(i, column) <= now and i.state in states]


def _fire_warnings(incidents, now: datetime, who: reach.Reacher) -> list[_Alert]:
    alerts = []
    due = _due(incidents, "sla_warning_at", now, [State.DETECTED])
    for incident in due:
        incident.sla_warning_at = None
    # Still unclaimed and still due: a claim or another sweeper in between wins.
    for incident in _compare_and_set(
        due, Q(state=State.DETECTED, sla_warning_at__lte=now), sla_warning_at=None
    ):
        left = max(0, int((incident.ack_due_at - now).total_seconds()))
        alerts.append(
            _Alert(
                incident=incident,
                kind=EventKind.SLA_WARNING,
                users=who.people(incident.brand_id, roles=["responder"]),
                subject=messages.subject(EventKind.SLA_WARNING, incident),
                payload={"seconds_left": left},
                data={"seconds_left": left},
            )
        )
    return alerts


def _fire_ack_levels(incidents, now: datetime, who: reach.Reacher) -> list[_Alert]:
    """The next level of each due chain; several overdue levels fire in order."""
    alerts = []
    due = _skip_replayed_runs(_due(incidents, "next_escalation_at", now, [State.DETECTED]), now)
    # The schedules any of these chains names, read together: four queries for the batch,
    # not four per incident. (Only the snapshots' ids: the levels about to fire are among them.)
    who.read_schedules({pk for incident in due for pk in chains.schedule_ids(incident.escalation_chain)})
    for _round in range(chains.MAX_LEVELS * (chains.MAX_REPEAT + 1)):
        if not due:
            break
        groups = defaultdict(list)  # incidents at the same level of the same chain
        for incident in due:
            chain_key = json.dumps(incident.escalation_chain, sort_keys=True)
            groups[(incident.escalation_level, chain_key)].append(incident)
        for (level, _chain), group in groups.items():
            alerts += _fire_ack_level(group, level, now, who)
        due = [i for i in due if i.next_escalation_at and i.next_escalation_at <= now]
    return alerts


def _skip_replayed_runs(due: list[Incident], now: datetime) -> list[Incident]:
    """
    A chain's repeats remind people over time; they are not replayed in a burst.

    When an incident's overdue levels span several runs of its chain (a backdated
    `detected_at`, or workers down for hours), the earlier runs are passed over: its
    level jumps to the first level of the latest overdue run, whose levels then fire
    in order. Rare, so row by row; an incident someone else moved meanwhile is dropped.
    """
    kept = []
    for incident in due:
        steps = chains.steps(incident.escalation_chain)
        run_length = len(incident.escalation_chain.get("levels") or ())
        overdue = sum(
            1
            for s in steps  # a prefix: offsets only grow along the chain
            if incident.ack_due_at + timedelta(seconds=s.offset_seconds) <= now
        )
        start = (overdue - 1) // run_length * run_length if run_length and overdue else 0
        if start <= incident.escalation_level:
            kept.append(incident)
            continue
        due_at = incident.ack_due_at + timedelta(seconds=steps[start].offset_seconds)
        if _compare_and_set(
            [incident],
            Q(state=State.DETECTED, escalation_level=incident.escalation_level),
            escalation_level=start,
            next_escalation_at=due_at,
        ):
            incident.escalation_level, incident.next_escalation_at = start, due_at
            kept.append(incident)
    return kept


def _fire_ack_level(group: list[Incident], level: int, now: datetime, who: reach.Reacher) -> list[_Alert]:
    """Level `level` + 1 of one chain for a group of incidents that have fired `level`."""
    steps = chains.steps(group[0].escalation_chain)
    if level >= len(steps):  # the chain is exhausted
        Incident.all_brands.filter(pk__in=[i.pk for i in group]).update(next_escalation_at=None)
        for incident in group:
            incident.next_escalation_at = None
        return []
    step = steps[level]
    following = timedelta(seconds=steps[level + 1].offset_seconds) if level + 1 < len(steps) else None
    won = _compare_and_set(
        group,
        Q(state=State.DETECTED, escalation_level=level),
        escalation_level=level + 1,
        next_escalation_at=F("ack_due_at") + following if following is not None else None,
        escalation_count=F("escalation_count") + 1,
    )
    for incident in group:  # the losers were moved by someone else: nothing more here
        incident.next_escalation_at = None
    alerts = []
    for incident in won:
        incident.escalation_level = level + 1
        incident.next_escalation_at = incident.ack_due_at + following if following else None
        # A level that reaches nobody tells the managers instead, and says why (reach.py).
        reached = who.level(incident.brand_id, step.roles, step.users, step.schedules)
        alerts.append(
            _Alert(
                incident=incident,
                kind=EventKind.ESCALATED,
                users=reached.users,
                subject=messages.subject(EventKind.ESCALATED, incident, level=step.level),
                payload={"level": step.level},
                data={"level": step.level, **_reach_data(reached)},
                escalation=Escalation(
                    incident=incident,
                    kind=EscalationKind.ACK,
                    level=step.level,
                    fired_at=now,
                    due_at=incident.ack_due_at + timedelta(seconds=step.offset_seconds),
                    notified=reached.usernames,
                ),
            )
        )
    return alerts


def _fire_resolve_alerts(incidents, now: datetime, who: reach.Reacher) -> list[_Alert]:
    alerts = []
    working = [s for s in OPEN_STATES if s != State.DETECTED]
    due = _due(incidents, "resolve_escalation_at", now, working)
    for incident in due:
        incident.resolve_escalation_at = None
    for incident in _compare_and_set(
        due,
        Q(state__in=working, resolve_escalation_at__lte=now),
        resolve_escalation_at=None,
        escalation_count=F("escalation_count") + 1,
    ):
        # The managers are the fallback of every level: if none can be reached, say so.
        reached = who.level(incident.brand_id, reach.MANAGERS, fallback=False)
        alerts.append(
            _Alert(
                incident=incident,
                kind=EventKind.ESCALATED,
                users=reached.users,
                subject=messages.subject("resolve_overdue", incident),
                payload={"reason": "resolve_overdue"},
                data={"level": None, "reason": "resolve_overdue", **_reach_data(reached)},
                escalation=Escalation(
                    incident=incident,
                    kind=EscalationKind.RESOLVE,
                    level=1,
                    fired_at=now,
                    due_at=incident.resolve_due_at,
                    notified=reached.usernames,
                ),
            )
        )
    return alerts


def _reach_data(reached: reach.Reach) -> dict:
    """What an `escalated` event adds: who was on call on its schedules, and whom it could not reach."""
    data = {"on_call": reach.on_call_data(reached.on_call)} if reached.on_call else {}
    if reached.nobody_reached is not None:
        data["nobody_reached"] = reached.nobody_reached
    elif reached.unreachable:
        data["unreachable"] = list(reached.unreachable)
    return data


def _fire_review_reminders(incidents, now: datetime, who: reach.Reacher) -> list[_Alert]:
    alerts = []
    due = _due(incidents, "review_reminder_at", now, [State.RESOLVED])
    for incident in due:
        incident.review_reminder_at = None
    for incident in _compare_and_set(
        due, Q(state=State.RESOLVED, review_reminder_at__lte=now), review_reminder_at=None
    ):
        alerts.append(
            _Alert(
                incident=incident,
                kind=EventKind.REVIEW_REMINDER,
                users=who.people(incident.brand_id, roles=["manager"]),
                subject=messages.subject(EventKind.REVIEW_REMINDER, incident),
                payload={},
                data={},
            )
        )
    return alerts


def _fire_update_reminders(incidents, now: datetime) -> list[_Alert]:
    """
    A status update overdue on a claimed incident reminds its comms lead, else its assignee,
    once per missed beat; the timer moves on to the next beat of the brand's cadence.
    """
    working = [s for s in OPEN_STATES if s != State.DETECTED]
    due = _due(incidents, "update_due_at", now, working)
    if not due:
        return []
    cadences = selectors.update_cadences({i.brand_id for i in due})
    following = {
        incident.pk: sla.update_due_at(
            acknowledged_at=incident.acknowledged_at,
            last_update_at=incident.last_update_at,
            cadence_seconds=cadences[incident.brand_id].get(incident.severity),
            now=now,
            reminded_at=now,
        )
        for incident in due
    }
    for incident in due:
        incident.update_due_at = following[incident.pk]
    won = _compare_and_set(
        due,
        Q(state__in=working, update_due_at__lte=now),
        update_due_at=Case(
            *(When(pk=pk, then=Value(at)) for pk, at in following.items()),
            default=Value(None),
            output_field=DateTimeField(),
        ),
    )
    # The brand has since dropped the cadence for this severity: nothing is due any more.
    won = [incident for incident in won if following[incident.pk] is not None]
    people = get_user_model().objects.in_bulk({i.comms_lead_id or i.assignee_id for i in won} - {None})
    alerts = []
    for incident in won:
        person = people.get(incident.comms_lead_id or incident.assignee_id)
        role = "comms" if incident.comms_lead_id else "assignee"
        alerts.append(
            _Alert(
                incident=incident,
                kind=EventKind.UPDATE_DUE,
                users=[person] if person is not None and person.is_active else [],
                subject=messages.subject(EventKind.UPDATE_DUE, incident),
                payload={"reminded": role},
                data={"reminded": role, "next_due_at": following[incident.pk].isoformat()},
            )
        )
    return alerts


def _sweep_statement_hops(now: datetime | None, batch: int) -> int:
    """
    Escalate every statement whose approval hop ran out of time, in batches claimed from the
    partial index `statement_hop_due` (a range scan of it, oldest first), each batch in its own
    transaction. A batch that raises is logged and its rows left for the next sweep.
    """
    fired = 0
    for _round in range(1000):  # bounded, as the incident columns' loop
        try:
            with transaction.atomic():
                at = now or timezone.now()
                rows = list(
                    Statement.all_brands.select_related("incident__brand")
                    .select_for_update(skip_locked=True, of=("self",))
                    .filter(hop_due_at__lte=at)
                    .order_by("hop_due_at")[:batch]
                )
                if rows:
                    fired += fire_statement_hops(rows, now=at)
        except Exception:
            logger.exception("sweeper: a batch of statement hops failed; left for the next sweep")
            return fired
        if len(rows) < batch:
            break
    return fired


def fire_statement_hops(statements: list[Statement], *, now: datetime) -> int:
    """
    Escalate the due hops of row-locked statements to their brands' managers, once per version
    and hop. Call inside a transaction.

    The compare-and-set clears `hop_due_at` only where the statement is still in approval at
    the same round and hop (an approval, a rejection or an edit in between moved it on and
    cleared or reset the timer); only the rows it moved get a decision row, notifications and
    an `escalated` event. The decision's unique constraint (statement, version, hop) makes a
    second escalation of the same hop of the same version impossible, whatever raced.
    """
    due = [
        st
        for st in statements
        if st.state == StatementState.IN_APPROVAL and st.hop_due_at and st.hop_due_at <= now
    ]
    # One UPDATE for the batch: the rows are locked by the claim, so it moves all of them;
    # if it does not (a caller that did not lock them), they are settled row by row.
    won = []
    if due:
        with transaction.atomic():
            moved = Statement.all_brands.filter(
                pk__in=[st.pk for st in due], state=StatementState.IN_APPROVAL, hop_due_at__lte=now
            ).update(hop_due_at=None)
            if moved != len(due):
                transaction.set_rollback(True)
        if moved == len(due):
            won = due
        else:
            won = [
                st
                for st in due
                if Statement.all_brands.filter(
                    pk=st.pk,
                    state=StatementState.IN_APPROVAL,
                    round=st.round,
                    hop=st.hop,
                    hop_due_at__lte=now,
                ).update(hop_due_at=None)
            ]
        for st in won:
            st.hop_due_at = None
    # Due rows that are no longer in approval should never have a timer: clear it quietly.
    stale = [st.pk for st in statements if st not in due and st.hop_due_at and st.hop_due_at <= now]
    if stale:
        Statement.all_brands.filter(pk__in=stale).exclude(state=StatementState.IN_APPROVAL).update(
            hop_due_at=None
        )
    if not won:
        return 0
    who = reach.Reacher(at=now)
    alerts, decisions = [], []
    for st in won:
        hop = st.route[st.hop]
        # The managers are every level's fallback: if none can be reached, the event says so.
        reached = who.level(st.incident.brand_id, reach.MANAGERS, fallback=False)
        decisions.append(
            StatementDecision(
                statement=st,
                round=st.round,
                version=st.version,
                hop=st.hop,
                kind=DecisionKind.ESCALATED,
                at=now,
                notified=reached.usernames,
            )
        )
        facts = {"statement": st.pk, "version": st.version, "hop": st.hop + 1, "hop_name": hop["name"]}
        alerts.append(
            _Alert(
                incident=st.incident,
                kind=EventKind.ESCALATED,
                users=reached.users,
                subject=messages.subject("statement_overdue", st.incident, hop=hop["name"]),
                payload={"reason": "statement_overdue", **facts},
                data={"level": None, "reason": "statement_overdue", **facts, **_reach_data(reached)},
            )
        )
    StatementDecision.all_brands.bulk_create(decisions)
    _record(alerts, now)
    return len(alerts)


def _remind_overdue_steps(now: datetime) -> int:
    """One reminder per open checklist step past its due time, to the assignee."""
    who = reach.Reacher()
    reminded = 0
    overdue = (
        ChecklistStep.all_brands.filter(due_at__lte=now, completed_at__isnull=True, reminded_at__isnull=True)
        .exclude(incident__state=State.REVIEWED)
        .select_related("incident__brand", "incident__assignee")
        .order_by("due_at")
    )
    for step in overdue[: settings.ESCALATION_SWEEP_BATCH]:
        # Each step on its own, briefly: completing a step locks its incident and then
        # the step, so a long transaction over many steps here would invite deadlocks;
        # and one bad step must not cost the others their reminder.
        try:
            with transaction.atomic():
                # Compare-and-set: of two sweepers, one reminds.
                if not ChecklistStep.all_brands.filter(pk=step.pk, reminded_at__isnull=True).update(
                    reminded_at=now
                ):
                    continue
                incident = step.incident
                users = (
                    [incident.assignee]
                    if incident.assignee_id
                    else who.people(incident.brand_id, roles=["responder"])
                )
                _record(
                    [
                        _Alert(
                            incident=incident,
                            kind=EventKind.STEP_OVERDUE,
                            users=users,
                            subject=messages.subject(EventKind.STEP_OVERDUE, incident, step=step.title),
                            payload={
                                "step": {
                                    "id": step.pk,
                                    "title": step.title,
                                    "due_at": step.due_at.isoformat(),
                                }
                            },
                            data={"step": step.pk, "title": step.title},
                        )
                    ],
                    now,
                )
                reminded += 1
        except Exception:
            logger.exception("sweeper: reminder for checklist step %s failed; skipped", step.pk)
    return reminded


def heartbeat_age(now: datetime | None = None) -> float | None:
    """Seconds since the sweeper last ran, or None if it never has."""
    row = ClockHeartbeat.objects.filter(name=HEARTBEAT).first()
    if row is None:
        return None
    return ((now or timezone.now()) - row.beat_at).total_seconds()
