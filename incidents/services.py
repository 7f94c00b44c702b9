"""
The only writers of incidents: one function per action.

Each action, in one transaction: lock the row, check the caller's role, check
the state allows the transition, check the transition permission, transition,
`save(update_fields=…)` (a full save would clobber columns a concurrent sweeper
changed), and append the timeline event. Side effects go to `on_commit`.
The API, the admin, tasks and commands all call these.
"""

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connections, router, transaction
from django.db.models import Q, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm
from rest_framework.exceptions import ValidationError

from api.errors import Conflict, Forbidden, NotFound
from crisis.models import Brand, Role
from crisis.tenancy import Principal
from playbooks import services as playbooks
from playbooks.models import ChecklistStep

from . import clock, outbox, sla
from .brand_setup import brand_setup
from .errors import AlreadyClaimed, InvalidTransition, StepsIncomplete
from .models import (
    OPEN_STATES,
    ChannelKind,
    ContactChannel,
    Escalation,
    EscalationKind,
    EscalationPolicy,
    EventKind,
    FollowUp,
    Incident,
    SlaPolicy,
    State,
)
from .selectors import incidents_visible_to, wave_figures
from .timeline import timeline_record


@dataclass(frozen=True)
class Filing:
    incident: Incident
    created: bool  # False: the report was a duplicate of an open incident
    # The checklist a new incident was filed with (saved, in order); None for a duplicate.
    checklist: list[ChecklistStep] | None = None


def incident_file(
    *,
    principal: Principal,
    brand: Brand,
    title: str,
    detected_at: datetime | None = None,
    description: str = "",
    category: str = "other",
    severity: str = "medium",
    channel: str = "",
    source_url: str = "",
    reach: int = 0,
    dedup_key: str = "",
    now: datetime | None = None,
) -> Filing:
    """File an incident, or count a duplicate when an open one has the same `dedup_key`."""
    if principal.key is None and not principal.has_role(brand.pk, Role.RESPONDER):
        raise Forbidden(_("Viewers cannot file incidents."))
    now = now or timezone.now()
    detected_at = detected_at or now
    fields = dict(
        principal=principal,
        brand=brand,
        title=title,
        detected_at=detected_at,
        description=description,
        category=category,
        severity=severity,
        channel=channel,
        source_url=source_url,
        reach=reach,
        dedup_key=dedup_key,
        now=now,
    )
    try:
        with transaction.atomic():
            return _count_duplicate_or_open(**fields)
    except IntegrityError:
        if not dedup_key:
            raise
    # Another filer opened an incident with this dedup key between our count (which
    # found none) and our INSERT, which the unique constraint then refused. A second
    # attempt counts a duplicate of theirs (or raises again if the error was another).
    with transaction.atomic():
        return _count_duplicate_or_open(**fields)


def _count_duplicate_or_open(
    *,
    principal: Principal,
    brand: Brand,
    dedup_key: str,
    source_url: str,
    reach: int,
    now: datetime,
    **fields,
) -> Filing:
    """
    Call in `incident_file`'s atomic block, which the INSERT's unique-constraint error
    rolls back whole (a transaction, or a savepoint inside a caller's transaction) before
    the retry; no savepoint of its own around the INSERT.
    """
    if dedup_key:
        duplicate = _count_duplicate(brand, dedup_key, principal, source_url, reach)
        if duplicate is not None:
            return Filing(duplicate, created=False)
    return _open_incident(
        principal=principal,
        brand=brand,
        dedup_key=dedup_key,
        source_url=source_url,
        reach=reach,
        now=now,
        **fields,
    )


def _count_duplicate(
    brand: Brand, dedup_key: str, principal: Principal, source_url: str, reach: int
) -> Incident | None:
    """
    Count a duplicate report on the brand's open incident with `dedup_key`, if any.

    One statement finds, locks, counts and reads the incident back, so a storm of
    duplicate reports costs no separate locking read; the lock is held to commit, so
    the count read back is ours. A concurrent resolve either commits first (the
    UPDATE then matches nothing and a new incident is filed, as after any resolve)
    or waits for us.
    """
    incident = _counted_open_incident(brand.pk, dedup_key)
    if incident is None:
        return None
    # The rows the response shows besides the incident: the brand is at hand, and the
    # reporter most often is the caller (a monitoring tool reporting the crisis again).
    # Anyone else (the assignee, another reporter) is read now, under the row lock: read
    # after commit, a key or user deleted in between would be gone.
    incident.brand = brand
    if principal.key is not None and incident.reported_by_key_id == principal.key.pk:
        incident.reported_by_key = principal.key
    if principal.user is not None and incident.reported_by_user_id == principal.user_id:
        incident.reported_by_user = principal.user
    prefetch_related_objects(
        [incident],
        *(
            name
            for name in ("assignee", "reported_by_user", "reported_by_key")
            if getattr(incident, f"{name}_id") is not None
            and not Incident._meta.get_field(name).is_cached(incident)
        ),
    )
    timeline_record(
        incident=incident,
        kind=EventKind.DUPLICATE,
        principal=principal,
        data={"duplicate_count": incident.duplicate_count, "source_url": source_url, "reach": reach},
    )
    return incident


def _counted_open_incident(brand_id: int, dedup_key: str) -> Incident | None:
    """
    `duplicate_count + 1` on the brand's open incident with `dedup_key`, and that
    incident as it is now (None if there is none).

    Written as SQL because the ORM cannot return rows from an UPDATE: as an ORM update
    and a re-read it cost ~1.0 ms of CPU and two round trips per duplicate report,
    this ~0.25 ms and one (bench/filing.py, the duplicate storm). `UPDATE … RETURNING`
    runs on PostgreSQL and on SQLite (3.35+); `raw()` turns the row into an Incident
    through the fields' own converters. The conditions are those of the unique
    constraint `incident_one_open_per_dedup_key`, whose index finds the row.
    """
    database = router.db_for_write(Incident)
    quote = connections[database].ops.quote_name
    meta = Incident._meta
    table, column = (
        quote(meta.db_table),
        {
            name: quote(meta.get_field(name).column)
            for name in ("duplicate_count", "brand", "dedup_key", "state")
        },
    )
    returning = ", ".join(quote(field.column) for field in meta.concrete_fields)
    states = ", ".join(["%s"] * len(OPEN_STATES))
    # Identifiers from the model's metadata; every value is a parameter.
    sql = (
        f"UPDATE {table}"  # noqa: S608  # nosec B608
        f" SET {column['duplicate_count']} = {column['duplicate_count']} + 1"
        f" WHERE {column['brand']} = %s AND {column['dedup_key']} = %s"
        f" AND {column['state']} IN ({states})"
        f" RETURNING {returning}"
    )
    counted = Incident.all_brands.db_manager(database).raw(sql, [brand_id, dedup_key, *OPEN_STATES])
    return next(iter(counted), None)


def _open_incident(
    *,
    principal: Principal,
    brand: Brand,
    title: str,
    detected_at: datetime,
    description: str,
    category: str,
    severity: str,
    channel: str,
    source_url: str,
    reach: int,
    dedup_key: str,
    now: datetime,
) -> Filing:
    setup = brand_setup(brand)
    target = setup.sla[severity]
    ack_due_at = sla.due_at(detected_at, target.ack_seconds)
    incident = Incident(
        brand=brand,
        title=title,
        description=description,
        category=category,
        severity=severity,
        channel=channel,
        source_url=source_url,
        reach=reach,
        dedup_key=dedup_key,
        detected_at=detected_at,
        created_at=now,
        ack_due_at=ack_due_at,
        resolve_due_at=sla.due_at(detected_at, target.resolve_seconds),
        reported_by_user=principal.user,
        reported_by_key=principal.key,
        **clock.initial_timers(detected_at=detected_at, ack_due_at=ack_due_at, chain=setup.chain),
    )
    incident.save(force_insert=True)
    playbook, steps = setup.playbook(brand, category, severity)
    checklist = []
    if playbook is not None:
        checklist = ChecklistStep.objects.bulk_create(
            playbooks.checklist_from(playbook, steps=steps, incident=incident, detected_at=detected_at)
        )
    timeline_record(
        incident=incident,
        kind=EventKind.CREATED,
        principal=principal,
        at=now,
        to_state=incident.state,
        data={
            "severity": severity,
            "category": category,
            "channel": channel,
            "playbook": playbook.name if playbook else None,
        },
    )
    clock.schedule_fast_path(incident, now=now)
    return Filing(incident, created=True, checklist=checklist)


@contextmanager
def _locked_incident(incident_id: int, principal: Principal):
    """The incident, row-locked for the enclosing transaction; 404 if the caller cannot see it."""
    with transaction.atomic():
        incident = (
            incidents_visible_to(principal).select_for_update(of=("self",)).filter(pk=incident_id).first()
        )
        if incident is None:
            raise NotFound()
        yield incident


def _require_role(incident: Incident, principal: Principal, minimum: str) -> None:
    if not principal.has_role(incident.brand_id, minimum):
        raise Forbidden()


def _apply(
    incident: Incident,
    principal: Principal,
    method_name: str,
    *,
    kind: str,
    fields: list[str],
    data: dict | None = None,
    precondition=None,
    **kwargs,
) -> Incident:
    """
    Run one transition and record it. Call while holding the row lock.

    Checks, in order: the state allows it (409), the caller may (403), then the
    action's own `precondition` (raises its own error), then transitions.
    """
    method = getattr(incident, method_name)
    if not can_proceed(method):
        raise InvalidTransition(state=incident.state)
    if not has_transition_perm(method, principal):
        raise Forbidden()
    if precondition is not None:
        precondition(incident)
    from_state = incident.state
    method(**kwargs)
    incident.save(update_fields=["state", *fields])
    timeline_record(
        incident=incident,
        kind=kind,
        principal=principal,
        from_state=from_state,
        to_state=incident.state,
        data=data,
    )
    # A transition may have started a timer (claim starts the resolve clock).
    clock.schedule_fast_path(incident, now=timezone.now())
    return incident


def incident_claim(*, incident_id: int, principal: Principal) -> Incident:
    """detected → acknowledged, assigned to the caller. Claiming one's own claim again is a no-op."""
    with _locked_incident(incident_id, principal) as incident:
        _require_role(incident, principal, Role.RESPONDER)
        if incident.state == State.ACKNOWLEDGED:
            if incident.assignee_id == principal.user_id:
                return incident
            raise AlreadyClaimed(state=incident.state)
        now = timezone.now()
        return _apply(
            incident,
            principal,
            "claim",
            kind=EventKind.CLAIMED,
            fields=[
                "assignee",
                "acknowledged_at",
                "next_escalation_at",
                "sla_warning_at",
                "resolve_escalation_at",
            ],
            by=principal.user,
            at=now,
            data={
                "ack_seconds": int((now - incident.detected_at).total_seconds()),
                "ack_breached": sla.is_breached(due=incident.ack_due_at, done=now, now=now),
            },
        )


def incident_investigate(*, incident_id: int, principal: Principal) -> Incident:
    with _locked_incident(incident_id, principal) as incident:
        _require_role(incident, principal, Role.RESPONDER)
        return _apply(
            incident,
            principal,
            "investigate",
            kind=EventKind.INVESTIGATING,
            fields=["investigated_at"],
            at=timezone.now(),
        )


def incident_resolve(*, incident_id: int, principal: Principal, resolution: str) -> Incident:
    """investigated → resolved; refused (409 steps_incomplete) while required steps are open."""
    with _locked_incident(incident_id, principal) as incident:
        _require_role(incident, principal, Role.RESPONDER)
        return _apply(
            incident,
            principal,
            "resolve",
            kind=EventKind.RESOLVED,
            precondition=_required_steps_done,
            fields=["resolution", "resolved_at", "resolve_escalation_at", "review_reminder_at"],
            resolution=resolution,
            at=timezone.now(),
            data={"resolution": resolution},
        )


def _required_steps_done(incident: Incident) -> None:
    open_steps = list(
        ChecklistStep.objects.filter(incident=incident, required=True, completed_at__isnull=True)
        .order_by("position", "id")
        .values("id", "title")
    )
    if open_steps:
        raise StepsIncomplete(steps=open_steps)


def incident_review(
    *,
    incident_id: int,
    principal: Principal,
    summary: str,
    root_cause: str,
    lessons: str,
    follow_ups: list[dict],
) -> Incident:
    """
    resolved → reviewed: the post-incident review. Closes the incident.

    The review carries the figures of the incident's own response, computed
    now from its timestamps, escalations and checklist, so later readers see
    what the reviewers saw.
    """
    with _locked_incident(incident_id, principal) as incident:
        _require_role(incident, principal, Role.MANAGER)
        owners = _follow_up_owners(incident, follow_ups)
        now = timezone.now()
        notes = {
            "summary": summary,
            "root_cause": root_cause,
            "lessons": lessons,
            "figures": response_figures(incident),
        }
        reviewed = _apply(
            incident,
            principal,
            "review",
            kind=EventKind.REVIEWED,
            fields=["review_notes", "reviewed_at", "review_reminder_at"],
            notes=notes,
            at=now,
            data={"summary": summary, "follow_ups": len(follow_ups)},
        )
        FollowUp.objects.bulk_create(
            FollowUp(
                incident=incident,
                position=i,
                title=item["title"],
                owner=owners.get(item.get("owner") or ""),
                due_date=item.get("due_date"),
            )
            for i, item in enumerate(follow_ups)
        )
        return reviewed


def _follow_up_owners(incident: Incident, follow_ups: list[dict]) -> dict:
    names = {item["owner"] for item in follow_ups if item.get("owner")}
    users = {
        u.get_username(): u
        for u in get_user_model().objects.filter(username__in=names, memberships__brand_id=incident.brand_id)
    }
    unknown = sorted(names - set(users))
    if unknown:
        raise ValidationError({"follow_ups": [_("Not members of this brand: %s") % ", ".join(unknown)[:500]]})
    return users


def response_figures(incident: Incident) -> dict:
    """How this incident's response went, in numbers (for its review)."""

    def seconds(later):
        return round((later - incident.detected_at).total_seconds(), 3) if later else None

    steps = list(ChecklistStep.objects.filter(incident=incident).values("due_at", "completed_at"))
    return {
        "time_to_acknowledge_seconds": seconds(incident.acknowledged_at),
        "time_to_resolve_seconds": seconds(incident.resolved_at),
        "ack_sla_met": not sla.is_breached(
            due=incident.ack_due_at, done=incident.acknowledged_at, now=incident.resolved_at or timezone.now()
        ),
        "resolve_sla_met": not sla.is_breached(
            due=incident.resolve_due_at, done=incident.resolved_at, now=timezone.now()
        ),
        "escalations": Escalation.all_brands.filter(incident=incident).count(),
        "duplicates": incident.duplicate_count,
        "steps_total": len(steps),
        "steps_done": sum(1 for s in steps if s["completed_at"]),
        "steps_done_late": sum(1 for s in steps if s["completed_at"] and s["completed_at"] > s["due_at"]),
        "wave": _wave_summary(incident),
    }


def _wave_summary(incident: Incident) -> dict | None:
    """The wave's evidence for the review: did the negative share go down after we acted?"""
    figures = wave_figures(incident, now=timezone.now())
    if not figures["mentions"]:
        return None
    return {key: value for key, value in figures.items() if key != "series"}


def incident_follow_up_done(*, incident_id: int, follow_up_id: int, principal: Principal) -> Incident:
    """Mark a review follow-up done; again changes nothing."""
    with _locked_incident(incident_id, principal) as incident:
        _require_role(incident, principal, Role.RESPONDER)
        follow_up = FollowUp.objects.filter(incident=incident, pk=follow_up_id).first()
        if follow_up is None:
            raise NotFound()
        if follow_up.done_at is None:
            now = timezone.now()
            FollowUp.objects.filter(pk=follow_up.pk).update(done_at=now, done_by=principal.user)
            timeline_record(
                incident=incident,
                kind=EventKind.FOLLOW_UP_DONE,
                principal=principal,
                at=now,
                data={"follow_up": follow_up.pk, "title": follow_up.title},
            )
        return incident


def incident_reopen(*, incident_id: int, principal: Principal, reason: str) -> Incident:
    """resolved → investigated. Refused (409) while another open incident holds the dedup key."""
    try:
        with _locked_incident(incident_id, principal) as incident:
            _require_role(incident, principal, Role.RESPONDER)
            alerted = Escalation.all_brands.filter(incident=incident, kind=EscalationKind.RESOLVE).exists()
            reopened = _apply(
                incident,
                principal,
                "reopen",
                kind=EventKind.REOPENED,
                fields=["resolved_at", "resolve_escalation_at", "review_reminder_at"],
                data={"reason": reason},
                resolve_alert_sent=alerted,
            )
            return reopened
    except IntegrityError:
        raise Conflict(
            _("Another open incident of this brand has the same dedup_key; work on that one.")
        ) from None


def incident_reassign(*, incident_id: int, principal: Principal, assignee: str) -> Incident:
    """Hand a claimed incident to another responder or manager of its brand."""
    with _locked_incident(incident_id, principal) as incident:
        _require_role(incident, principal, Role.RESPONDER)
        if incident.state not in (State.ACKNOWLEDGED, State.INVESTIGATED):
            raise InvalidTransition(state=incident.state)
        if not (
            principal.has_role(incident.brand_id, Role.MANAGER) or incident.assignee_id == principal.user_id
        ):
            raise Forbidden(_("Only a manager or the current assignee can reassign."))
        target = (
            get_user_model()
            .objects.filter(
                username=assignee,
                memberships__brand_id=incident.brand_id,
                memberships__role__in=[Role.RESPONDER, Role.MANAGER],
                is_active=True,
            )
            .first()
        )
        if target is None:
            raise ValidationError({"assignee": [_("Not a responder or manager of this brand.")]})
        if target.pk == incident.assignee_id:
            return incident
        previous = incident.assignee.get_username() if incident.assignee_id else None
        incident.assignee = target
        incident.save(update_fields=["assignee"])
        timeline_record(
            incident=incident,
            kind=EventKind.REASSIGNED,
            principal=principal,
            data={"from": previous, "to": target.get_username()},
        )
        return incident


def incident_step_complete(
    *, incident_id: int, step_id: int, principal: Principal, note: str = ""
) -> Incident:
    """Tick off a checklist step; doing it again changes nothing."""
    with _locked_incident(incident_id, principal) as incident:
        _require_role(incident, principal, Role.RESPONDER)
        step = ChecklistStep.objects.filter(incident=incident, pk=step_id).first()
        if step is None:
            raise NotFound()
        if step.completed_at is not None:
            return incident
        if incident.state == State.REVIEWED:
            raise InvalidTransition(state=incident.state)
        now = timezone.now()
        ChecklistStep.objects.filter(pk=step.pk).update(
            completed_at=now, completed_by=principal.user, note=note
        )
        timeline_record(
            incident=incident,
            kind=EventKind.STEP_COMPLETED,
            principal=principal,
            at=now,
            data={"step": step.pk, "title": step.title, "note": note, "late": now > step.due_at},
        )
        return incident


def incident_attach_playbook(*, incident_id: int, principal: Principal, playbook_id: int) -> Incident:
    """A manager adds another playbook's steps to an incident's checklist."""
    with _locked_incident(incident_id, principal) as incident:
        _require_role(incident, principal, Role.MANAGER)
        if not incident.is_open:
            raise InvalidTransition(state=incident.state)
        playbook = (
            playbooks.playbooks_visible_to(principal)
            .filter(Q(brand__isnull=True) | Q(brand_id=incident.brand_id), pk=playbook_id)
            .first()
        )
        if playbook is None:
            raise ValidationError({"playbook": [_("Unknown playbook.")]})
        last = ChecklistStep.objects.filter(incident=incident).order_by("-position").first()
        ChecklistStep.objects.bulk_create(
            playbooks.checklist_from(
                playbook,
                incident=incident,
                detected_at=incident.detected_at,
                first_position=(last.position + 1) if last else 0,
            )
        )
        timeline_record(
            incident=incident,
            kind=EventKind.PLAYBOOK_ATTACHED,
            principal=principal,
            data={"playbook": playbook.pk, "name": playbook.name},
        )
        return incident


def incident_comment(*, incident_id: int, principal: Principal, body: str):
    with _locked_incident(incident_id, principal) as incident:
        _require_role(incident, principal, Role.RESPONDER)
        return timeline_record(
            incident=incident, kind=EventKind.COMMENT, principal=principal, data={"body": body}
        )


def available_actions(incident: Incident, principal: Principal) -> list[str]:
    """The actions this caller may take on the incident now (no queries: roles are cached)."""
    actions = [t.name for t in incident.get_available_user_state_transitions(principal)]
    if incident.state in (State.ACKNOWLEDGED, State.INVESTIGATED) and (
        principal.has_role(incident.brand_id, Role.MANAGER)
        or (principal.user_id is not None and incident.assignee_id == principal.user_id)
    ):
        actions.append("reassign")
    return actions


def contact_channel_add(*, user, kind: str, target: str) -> ContactChannel:
    secret = outbox.new_webhook_secret() if kind == ChannelKind.WEBHOOK else ""
    return ContactChannel.objects.create(user=user, kind=kind, target=target, secret=secret)


def escalation_policy_set(*, brand: Brand, chain: dict) -> None:
    """Replace the brand's chain; running incidents keep the snapshot they opened with."""
    EscalationPolicy.objects.update_or_create(brand=brand, defaults={"chain": chain})


def sla_policy_set(*, brand: Brand, targets: dict[str, sla.SlaTarget]) -> None:
    """Replace the brand's SLA targets; applies to incidents filed afterwards."""
    with transaction.atomic():
        for severity, target in targets.items():
            SlaPolicy.objects.update_or_create(
                brand=brand,
                severity=severity,
                defaults={"ack_seconds": target.ack_seconds, "resolve_seconds": target.resolve_seconds},
            )
