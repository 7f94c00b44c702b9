"""
The transitions of an incident and the other changes people make to it: one function per action.

Each action, in one transaction: lock the row, check the caller's role, check
the state allows the transition, check the transition permission, transition,
`save(update_fields=…)` (a full save would clobber columns a concurrent sweeper
changed), and append the timeline event. Side effects go to `on_commit`.
The API, the console, the admin, tasks and commands all call these. Filing a new
incident is `filing.py`; reads are `selectors.py`.
"""

from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm

from api.errors import Conflict, Forbidden, InvalidInput, NotFound
from crisis.models import Role
from crisis.tenancy import Principal
from playbooks import services as playbooks
from playbooks.models import ChecklistStep

from . import chain as chains
from . import clock, messages, outbox, sla
from .errors import AlreadyClaimed, InvalidTransition, StepsIncomplete
from .models import (
    FOLLOW_UPS_MAX,
    FREE_TEXT_MAX,
    OPEN_STATES,
    EscalationKind,
    EventKind,
    FollowUp,
    Incident,
    MovedDedupKey,
    SourceState,
    State,
)
from .selectors import incidents_visible_to, next_update_due, response_figures
from .timeline import timeline_record


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


def _text(field: str, value: str, *, required: bool = True, max_length: int = FREE_TEXT_MAX) -> str:
    """Free text a person wrote, checked against the limits the desk keeps; InvalidInput names the field."""
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(_("This field may not be blank."), field=field)
    if len(value) > max_length:
        raise InvalidInput(
            _("Ensure this field has no more than %(max)d characters.") % {"max": max_length}, field=field
        )
    return value


def _follow_ups(items: list[dict]) -> list[dict]:
    """A review's follow-ups within the limits of the FollowUp rows they become."""
    if len(items) > FOLLOW_UPS_MAX:
        raise InvalidInput(
            _("Ensure this field has no more than %(max)d elements.") % {"max": FOLLOW_UPS_MAX},
            field="follow_ups",
        )
    title_max = FollowUp._meta.get_field("title").max_length
    return [
        {**item, "title": _text("follow_ups", item.get("title", ""), max_length=title_max)} for item in items
    ]


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
                "update_due_at",
            ],
            by=principal.user,
            at=now,
            update_due_at=next_update_due(incident, now=now, acknowledged_at=now),
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
    resolution = _text("resolution", resolution)
    with _locked_incident(incident_id, principal) as incident:
        _require_role(incident, principal, Role.RESPONDER)
        return _apply(
            incident,
            principal,
            "resolve",
            kind=EventKind.RESOLVED,
            precondition=_required_steps_done,
            fields=[
                "resolution",
                "resolved_at",
                "resolve_escalation_at",
                "review_reminder_at",
                "update_due_at",
            ],
            resolution=resolution,
            at=timezone.now(),
            data={"resolution": resolution},
        )


def _required_steps_done(incident: Incident) -> None:
    open_steps = list(
        incident.checklist.filter(required=True, completed_at__isnull=True)
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
    summary, root_cause, lessons = (
        _text("summary", summary),
        _text("root_cause", root_cause),
        _text("lessons", lessons),
    )
    follow_ups = _follow_ups(follow_ups)
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
        raise InvalidInput(
            field="follow_ups", detail=_("Not members of this brand: %s") % ", ".join(unknown)[:500]
        )
    return users


def incident_follow_up_done(*, incident_id: int, follow_up_id: int, principal: Principal) -> Incident:
    """Mark a review follow-up done; again changes nothing."""
    with _locked_incident(incident_id, principal) as incident:
        _require_role(incident, principal, Role.RESPONDER)
        follow_up = incident.follow_ups.filter(pk=follow_up_id).first()
        if follow_up is None:
            raise NotFound()
        if follow_up.done_at is None:
            now = timezone.now()
            incident.follow_ups.filter(pk=follow_up.pk).update(done_at=now, done_by=principal.user)
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
    reason = _text("reason", reason)
    try:
        with _locked_incident(incident_id, principal) as incident:
            _require_role(incident, principal, Role.RESPONDER)
            alerted = incident.escalations.filter(kind=EscalationKind.RESOLVE).exists()
            now = timezone.now()
            reopened = _apply(
                incident,
                principal,
                "reopen",
                kind=EventKind.REOPENED,
                fields=["resolved_at", "resolve_escalation_at", "review_reminder_at", "update_due_at"],
                data={"reason": reason},
                resolve_alert_sent=alerted,
                # The beats owed while it was resolved are not: the next one on its grid.
                update_due_at=next_update_due(incident, now=now, reminded_at=now),
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
            raise InvalidInput(field="assignee", detail=_("Not a responder or manager of this brand."))
        if target.pk == incident.assignee_id:
            return incident
        previous = incident.assignee.get_username() if incident.assignee_id else None
        incident.assignee = target
        incident.save(update_fields=["assignee"])
        now = timezone.now()
        sent = []
        if target.pk != principal.user_id:  # nobody is told what they just did
            with translation.override(incident.brand.language):
                message = outbox.Message(
                    incident=incident,
                    users=[target],
                    reason=EventKind.REASSIGNED,
                    subject=messages.subject(EventKind.REASSIGNED, incident),
                    body=messages.body(incident, messages.display_labels()),
                    payload=messages.payload(incident, EventKind.REASSIGNED, {"from": previous}, now),
                )
                outbox.enqueue([message], now=now)
            sent = message.notifications
        timeline_record(
            incident=incident,
            kind=EventKind.REASSIGNED,
            principal=principal,
            at=now,
            data={"from": previous, "to": target.get_username(), **outbox.recipients_of(sent)},
        )
        return incident


def incident_step_complete(
    *, incident_id: int, step_id: int, principal: Principal, note: str = ""
) -> Incident:
    """Tick off a checklist step; doing it again changes nothing."""
    note = _text("note", note, required=False)
    with _locked_incident(incident_id, principal) as incident:
        _require_role(incident, principal, Role.RESPONDER)
        step = incident.checklist.filter(pk=step_id).first()
        if step is None:
            raise NotFound()
        if step.completed_at is not None:
            return incident
        if incident.state == State.REVIEWED:
            raise InvalidTransition(state=incident.state)
        now = timezone.now()
        incident.checklist.filter(pk=step.pk).update(completed_at=now, completed_by=principal.user, note=note)
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
            raise InvalidInput(field="playbook", detail=_("Unknown playbook."))
        last = incident.checklist.order_by("-position").first()
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
    body = _text("body", body)
    with _locked_incident(incident_id, principal) as incident:
        _require_role(incident, principal, Role.RESPONDER)
        return timeline_record(
            incident=incident, kind=EventKind.COMMENT, principal=principal, data={"body": body}
        )


# --- What the sending tool says about an incident it filed ----------------------
# PagerDuty's acknowledge and resolve, an alert group's `resolved` (integrations/inbound).
# None of these is a transition: the incident stays where people put it. They set
# `source_state`, and a resolve stops the acknowledgement timers of an incident nobody
# has claimed, exactly as a claim does, by clearing the clock's columns under the row
# lock: the clock only fires a column that is set (DESIGN.md, "the database is the
# clock"), so a sweep waiting on the lock finds nothing due afterwards.
#
# An incident may carry keys merged into it (`MovedDedupKey`, `command.incident_merge`);
# each such key has its own record (`source_state`, `source_details`) on its row, and
# `dedup_key` names the key an event is about. The incident's own columns are its own
# key's. Its escalation stops only once every source it carries has resolved — its own
# and each merged key's, as PagerDuty resolves an incident once all its alerts have —
# and one of them firing again re-arms it. Every row of an incident is written under
# the incident's row lock, so two events about two of its keys take turns. Each of these
# answers None when, once locked, the incident no longer carries the key (a merge moved
# it on meanwhile): the caller looks the key up again (`integrations.inbound.alerts.say`).


@contextmanager
def _locked_for_source(incident_id: int, principal: Principal, dedup_key: str):
    """
    As `_locked_incident`, for what a source says: a key sees the incidents it filed and,
    by a key it filed, the one that key was merged into (the adapters have checked that the
    caller filed the key: `integrations.inbound.alerts.is_filer`).
    """
    with transaction.atomic():
        incidents = Incident.objects.visible_to(principal)
        if principal.key is not None:
            carried = MovedDedupKey.objects.visible_to(principal).filter(
                dedup_key=dedup_key, reported_by_key=principal.key
            )
            incidents = incidents.filter(
                Q(reported_by_key=principal.key) | Q(pk__in=carried.values("incident_id"))
            )
        incident = incidents.select_for_update(of=("self",)).filter(pk=incident_id).first()
        if incident is None:
            raise NotFound()
        yield incident


def _key_record(incident: Incident, dedup_key: str):
    """
    The record `dedup_key` speaks through on the locked incident: its merged-key row, else
    the incident itself; None when the incident no longer carries the key (merged away or
    closed while the caller waited for the lock: the caller looks the key up again).
    """
    if incident.state not in OPEN_STATES:
        return None
    if dedup_key:
        row = (
            MovedDedupKey.objects.for_brands([incident.brand_id])
            .filter(incident=incident, dedup_key=dedup_key)
            .first()
        )
        if row is not None:
            return row
        if incident.dedup_key != dedup_key:
            return None
    return incident


def sources_resolved(incident: Incident) -> bool:
    """Whether every source the incident carries (its own, and the keys merged into it) has resolved."""
    return (
        incident.source_state == SourceState.RESOLVED
        and not MovedDedupKey.objects.for_brands([incident.brand_id])
        .filter(incident=incident)
        .exclude(source_state=SourceState.RESOLVED)
        .exists()
    )


def _said(incident: Incident, record, data: dict, dedup_key: str) -> dict:
    """The timeline's data: what the source sent, and which merged key it was about."""
    if record is incident:
        return data
    return {**data, "dedup_key": dedup_key, "merged_key": True}


def incident_source_acknowledged(
    *, incident_id: int, principal: Principal, data: dict, dedup_key: str = ""
) -> Incident | None:
    """The source acknowledged the alert: recorded on the timeline; nothing else changes."""
    with _locked_for_source(incident_id, principal, dedup_key) as incident:
        record = _key_record(incident, dedup_key)
        if record is None:
            return None
        if record.source_state == SourceState.ACKNOWLEDGED:
            return incident  # said again: nothing new to record
        record.source_state = SourceState.ACKNOWLEDGED
        record.save(update_fields=["source_state"])
        timeline_record(
            incident=incident,
            kind=EventKind.SOURCE_ACKNOWLEDGED,
            principal=principal,
            data=_said(incident, record, data, dedup_key),
        )
        return incident


def incident_source_resolved(
    *, incident_id: int, principal: Principal, data: dict, dedup_key: str = ""
) -> Incident | None:
    """
    The source says the alert cleared itself. Recorded; on an incident nobody has claimed
    whose every source has now resolved, the escalation and the SLA warning stop
    (`ack_due_at` stays, and is still judged); the incident stays open for a person to close.
    """
    with _locked_for_source(incident_id, principal, dedup_key) as incident:
        record = _key_record(incident, dedup_key)
        if record is None:
            return None
        if record.source_state == SourceState.RESOLVED:
            return incident  # a resend of the same news
        record.source_state = SourceState.RESOLVED
        record.save(update_fields=["source_state"])
        stopped = incident.state == State.DETECTED and sources_resolved(incident)
        if stopped:
            incident.next_escalation_at = None
            incident.sla_warning_at = None
            incident.save(update_fields=["next_escalation_at", "sla_warning_at"])
        timeline_record(
            incident=incident,
            kind=EventKind.SOURCE_RESOLVED,
            principal=principal,
            data={**_said(incident, record, data, dedup_key), "escalation_stopped": stopped},
        )
        return incident


def incident_source_retriggered(
    *, incident_id: int, principal: Principal, details: dict | None = None, dedup_key: str = ""
) -> Incident | None:
    """
    The source fires again on an open incident (its duplicate is already counted): what
    it said before no longer holds, and if its sources had resolved an unclaimed incident,
    the escalation is re-armed where it stood (`escalation_rearmed`). `details`, when
    given, replace the key's `source_details` (the firing's own fields, such as an alert's
    new `startsAt`).
    """
    with _locked_for_source(incident_id, principal, dedup_key) as incident:
        record = _key_record(incident, dedup_key)
        if record is None:
            return None
        fields = []
        if details is not None and details != record.source_details:
            record.source_details = details
            fields.append("source_details")
        if not record.source_state:
            if fields:
                record.save(update_fields=fields)
            return incident
        stopped = incident.state == State.DETECTED and sources_resolved(incident)
        record.source_state = ""
        record.save(update_fields=[*fields, "source_state"])
        if stopped:
            escalation_rearmed(incident)
        return incident


def escalation_rearmed(incident: Incident) -> Incident:
    """
    Re-arm the escalation of an unclaimed incident (locked by the caller) that its sources
    had stopped, where it stood: levels that fell due meanwhile fire at the next tick (once
    each: the clock's compare-and-set), and the SLA warning if it had not been sent yet.
    """
    now = timezone.now()
    incident.next_escalation_at = chains.due_at_level(
        incident.escalation_chain, incident.ack_due_at, incident.escalation_level
    )
    # A warning is worth sending only before the deadline, and only once.
    warned = (
        incident.ack_due_at <= now
        or incident.escalation_level > 0
        or incident.events.filter(kind=EventKind.SLA_WARNING).exists()
    )
    incident.sla_warning_at = (
        None
        if warned
        else chains.warning_at(incident.detected_at, incident.ack_due_at, settings.SLA_WARNING_SHARE)
    )
    incident.save(update_fields=["next_escalation_at", "sla_warning_at"])
    clock.schedule_fast_path(incident, now=now)
    return incident
