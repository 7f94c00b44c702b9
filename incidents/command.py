"""
Incident command (API.md, "Incident command"): severity that re-times the clock, the roles
beside the assignee, related and merged incidents, and status updates on a cadence.

One function per action, in the manner of `services`: lock the row (two rows in id order,
for links and merges), check the caller, change the columns, `save(update_fields=…)`,
append the timeline events; notifications are outbox rows in the same transaction,
delivered after commit. A change that puts a timer in the past fires it at once, on the
clock's own compare-and-set (`clock.fire_locked`).
"""

from contextlib import contextmanager
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_fsm import can_proceed, has_transition_perm

from api.errors import Forbidden, InvalidInput, NotFound
from crisis.models import SEVERITY_RANK, Role, Severity
from crisis.tenancy import Principal

from . import chain as chains
from . import clock, messages, outbox, reach, selectors, services, sla, wave_tally
from .brand_setup import brand_setup
from .errors import InvalidTransition
from .models import (
    Audience,
    EventKind,
    Incident,
    MovedDedupKey,
    State,
    StatusUpdate,
    TimelineEvent,
    WaveMention,
    WaveTally,
)
from .selectors import incidents_visible_to
from .services import _locked_incident, _require_role, _text
from .timeline import timeline_record

# The roles beside the assignee, as the API names them, and the column of each.
ROLE_FIELDS = {"commander": "commander", "comms": "comms_lead", "scribe": "scribe"}
LINK_KINDS = ("related",)
CLAIMED_STATES = (State.ACKNOWLEDGED, State.INVESTIGATED)


def _is_manager_or_assignee(incident: Incident, principal: Principal) -> bool:
    return principal.has_role(incident.brand_id, Role.MANAGER) or (
        principal.user_id is not None and incident.assignee_id == principal.user_id
    )


def _worker_of(brand_id: int, username: str):
    """An active responder or manager of the brand named `username`, or None."""
    return (
        get_user_model()
        .objects.filter(
            username=username,
            memberships__brand_id=brand_id,
            memberships__role__in=[Role.RESPONDER, Role.MANAGER],
            is_active=True,
        )
        .first()
    )


# --- Severity ---------------------------------------------------------------------------------


def incident_severity_change(
    *, incident_id: int, principal: Principal, severity: str, reason: str
) -> Incident:
    """
    A person changes an open incident's severity (the assignee or a manager), with a reason.

    The deadlines are re-timed by `sla.retimed` (a passed deadline stays: no breach is
    erased), the pending escalation levels, the SLA warning, the resolve alert and the
    status-update beat follow them, and whatever the new deadlines put in the past fires
    now, once. `escalation_level` is never lowered. The same severity again changes nothing.
    """
    reason = _text("reason", reason)
    if severity not in Severity.values:
        raise InvalidInput(_("Not a severity."), field="severity")
    with _locked_incident(incident_id, principal) as incident:
        _require_role(incident, principal, Role.RESPONDER)
        if not incident.is_open:
            raise InvalidTransition(state=incident.state)
        if not _is_manager_or_assignee(incident, principal):
            raise Forbidden(_("Only a manager or the assignee can change the severity."))
        return _severity_set(incident, severity=severity, reason=reason, principal=principal, data={})


def severity_preview(incident: Incident, *, severity: str, now: datetime) -> dict:
    """The deadlines a severity change would give the incident now (the console shows them first)."""
    target = brand_setup(incident.brand).sla[severity]
    ack, resolve = sla.retimed(
        detected_at=incident.detected_at,
        ack_due_at=incident.ack_due_at,
        resolve_due_at=incident.resolve_due_at,
        target=target,
        unclaimed=incident.state == State.DETECTED,
        now=now,
    )
    cadence = selectors.update_cadences([incident.brand_id])[incident.brand_id].get(severity)
    return {
        "severity": severity,
        "ack_due_at": ack,
        "resolve_due_at": resolve,
        "ack_moved": ack != incident.ack_due_at,
        "resolve_moved": resolve != incident.resolve_due_at,
        # A deadline the change puts in the past escalates at once.
        "escalates_now": incident.state == State.DETECTED and ack != incident.ack_due_at and ack <= now,
        "update_cadence_seconds": cadence,
    }


def _severity_set(
    incident: Incident, *, severity: str, reason: str, principal: Principal | None, data: dict
) -> Incident:
    """Set a locked, open incident's severity and re-time its clock. `principal` None: the desk itself."""
    if severity == incident.severity:
        return incident
    now = timezone.now()
    before = {
        "severity": incident.severity,
        "ack_due_at": incident.ack_due_at,
        "resolve": incident.resolve_due_at,
    }
    target = brand_setup(incident.brand).sla[severity]
    unclaimed = incident.state == State.DETECTED
    incident.ack_due_at, incident.resolve_due_at = sla.retimed(
        detected_at=incident.detected_at,
        ack_due_at=incident.ack_due_at,
        resolve_due_at=incident.resolve_due_at,
        target=target,
        unclaimed=unclaimed,
        now=now,
    )
    incident.severity = severity
    fields = ["severity", "ack_due_at", "resolve_due_at"]
    if unclaimed:
        # Pending levels follow the deadline; a chain that ran out or was stopped by the
        # source stays as it is. The level reached is kept: history is not un-escalated.
        if incident.next_escalation_at is not None:
            incident.next_escalation_at = chains.due_at_level(
                incident.escalation_chain, incident.ack_due_at, incident.escalation_level
            )
        if incident.sla_warning_at is not None:
            # A warning is worth sending only before the deadline.
            incident.sla_warning_at = (
                None
                if incident.ack_due_at <= now
                else chains.warning_at(incident.detected_at, incident.ack_due_at, settings.SLA_WARNING_SHARE)
            )
        fields += ["next_escalation_at", "sla_warning_at"]
    elif incident.resolve_escalation_at is not None:  # claimed, and managers not yet alerted
        incident.resolve_escalation_at = incident.resolve_due_at
        fields.append("resolve_escalation_at")
    if incident.state in CLAIMED_STATES:
        incident.update_due_at = selectors.next_update_due(
            incident, now=now, reminded_at=_last_reminder(incident)
        )
        fields.append("update_due_at")
    incident.save(update_fields=fields)
    timeline_record(
        incident=incident,
        kind=EventKind.SEVERITY_CHANGED,
        principal=principal,
        at=now,
        data={
            "from": before["severity"],
            "to": severity,
            "reason": reason,
            "ack_due_at": [before["ack_due_at"].isoformat(), incident.ack_due_at.isoformat()],
            "resolve_due_at": [before["resolve"].isoformat(), incident.resolve_due_at.isoformat()],
            **data,
        },
    )
    clock.fire_locked(incident, now=now)
    clock.schedule_fast_path(incident, now=now)
    return incident


def incident_wave_grew(
    *, incident_id: int, severity: str, title: str | None, title_step: int = 0, reason: str, data: dict
) -> None:
    """
    The automatic severity and title of a mention wave (`waves`), as it grows: the severity
    detection's rule gives the wave is applied through the same re-timing as a person's
    change, raised only, never lowered — and not at all once a person has set the severity
    by hand (their decision wins). `title`, when given, replaces the generated one if it
    names a higher step of the wave's count (`title_step`) than the title did: two batches
    that reach steps 20 and 50 at once end with the title of 50, whichever locks first.
    """
    with transaction.atomic():
        # FOR NO KEY UPDATE: intake's commits check their wave mentions' foreign key on this
        # row (FOR KEY SHARE), holding the tally this waits for; FOR UPDATE would deadlock.
        incident = (
            Incident.all_brands.select_for_update(of=("self",), no_key=True).filter(pk=incident_id).first()
        )
        if incident is None or not incident.is_open:
            return
        if SEVERITY_RANK[severity] < SEVERITY_RANK[incident.severity] and not severity_set_by_a_person(
            incident_id
        ):
            _severity_set(incident, severity=severity, reason=reason, principal=None, data=data)
        # Last: the tally's row is locked from here to the commit, and intake adds to it.
        if title and title != incident.title:
            stepped = WaveTally.all_brands.filter(incident_id=incident_id, title_step__lt=title_step)
            if stepped.update(title_step=title_step):
                incident.title = title
                incident.save(update_fields=["title"])


def severity_set_by_a_person(incident_id: int) -> bool:
    """Whether a person has changed the incident's severity by hand (automatic changes then stop)."""
    return TimelineEvent.all_brands.filter(
        incident_id=incident_id, kind=EventKind.SEVERITY_CHANGED, actor__isnull=False
    ).exists()


# --- Status-update cadence ------------------------------------------------------------------


def _last_reminder(incident: Incident) -> datetime | None:
    return (
        incident.events.filter(kind=EventKind.UPDATE_DUE).order_by("-at").values_list("at", flat=True).first()
    )


# --- Roles ------------------------------------------------------------------------------------


def incident_role_set(*, incident_id: int, principal: Principal, role: str, username: str | None) -> Incident:
    """
    Give a role (commander, comms, scribe) to a responder or manager of the brand, or clear it
    (`username` None). A manager or the incident's commander may; the person is notified.
    """
    if role not in ROLE_FIELDS:
        raise InvalidInput(_("Not a role: commander, comms or scribe."), field="role")
    with _locked_incident(incident_id, principal) as incident:
        _require_role(incident, principal, Role.RESPONDER)
        if not incident.is_open:
            raise InvalidTransition(state=incident.state)
        is_commander = principal.user_id is not None and incident.commander_id == principal.user_id
        if not (principal.has_role(incident.brand_id, Role.MANAGER) or is_commander):
            raise Forbidden(_("Only a manager or the incident's commander can give roles."))
        person = None
        if username is not None:
            person = _worker_of(incident.brand_id, username)
            if person is None:
                raise InvalidInput(_("Not a responder or manager of this brand."), field="username")
        field = ROLE_FIELDS[role]
        if getattr(incident, f"{field}_id") == (person.pk if person else None):
            return incident
        previous = getattr(incident, field)
        setattr(incident, field, person)
        incident.save(update_fields=[field])
        now = timezone.now()
        sent = []
        if person is not None and person.pk != principal.user_id:  # nobody is told what they just did
            with translation.override(incident.brand.language):
                sent = _notify(
                    incident,
                    [person],
                    reason=EventKind.ROLE_ASSIGNED,
                    now=now,
                    subject_values={"role": messages.role_name(role)},
                    payload={"role": role},
                )
        timeline_record(
            incident=incident,
            kind=EventKind.ROLE_ASSIGNED,
            principal=principal,
            at=now,
            data={
                "role": role,
                "username": person.get_username() if person else None,
                "previous": previous.get_username() if previous else None,
                **outbox.recipients_of(sent),
            },
        )
        return incident


def _notify(
    incident: Incident, users: list, *, reason: str, now: datetime, subject_values: dict, payload: dict
) -> list:
    """One outbox message about the incident to `users`; the notifications written."""
    message = outbox.Message(
        incident=incident,
        users=users,
        reason=reason,
        subject=messages.subject(reason, incident, **subject_values),
        body=messages.body(incident, messages.display_labels()),
        payload=messages.payload(incident, reason, payload, now),
    )
    outbox.enqueue([message], now=now)
    return message.notifications


# --- Links and merges ------------------------------------------------------------------------


@contextmanager
def _locked_pair(incident_id: int, other_id: int, principal: Principal):
    """
    Both incidents the caller can see, row-locked in id order (no deadlock between two
    callers). FOR NO KEY UPDATE, as any UPDATE of them takes: a merge recounts wave tallies
    (`wave_tally.tally_recount`) that a mention intake holds while its commit checks its
    wave mentions' foreign key on these rows (FOR KEY SHARE), which FOR UPDATE would block.
    """
    incident_id, other_id = int(incident_id), int(other_id)  # ids from URLs come as text
    with transaction.atomic():
        rows = {
            incident.pk: incident
            for incident in incidents_visible_to(principal)
            .select_for_update(of=("self",), no_key=True)
            .filter(pk__in={incident_id, other_id})
            .order_by("pk")
        }
        if incident_id not in rows:
            raise NotFound()
        yield rows[incident_id], rows.get(other_id)


def incident_link(
    *, incident_id: int, principal: Principal, other_id: int, kind: str = "related"
) -> Incident:
    """Link two incidents of one brand as related, both ways; linking them again changes nothing."""
    if kind not in LINK_KINDS:
        raise InvalidInput(_("Not a kind of link."), field="kind")
    with _locked_pair(incident_id, other_id, principal) as (incident, other):
        _require_role(incident, principal, Role.RESPONDER)
        if int(other_id) == incident.pk:
            raise InvalidInput(_("An incident cannot be linked to itself."), field="incident")
        if other is None or other.brand_id != incident.brand_id:
            raise InvalidInput(_("Not an incident of this brand."), field="incident")
        if any(link["incident"] == other.pk for link in incident.links):
            return incident
        now = timezone.now()
        for one, two in ((incident, other), (other, incident)):
            one.links = sorted(
                [*one.links, {"incident": two.pk, "kind": kind}], key=lambda link: link["incident"]
            )
            one.save(update_fields=["links"])
            timeline_record(
                incident=one,
                kind=EventKind.LINKED,
                principal=principal,
                at=now,
                data={"incident": two.pk, "kind": kind},
            )
        return incident


def incident_unlink(*, incident_id: int, principal: Principal, other_id: int) -> Incident:
    """Undo a link, both ways; 404 when the two are not linked."""
    with _locked_pair(incident_id, other_id, principal) as (incident, other):
        _require_role(incident, principal, Role.RESPONDER)
        if other is None or not any(link["incident"] == other.pk for link in incident.links):
            raise NotFound()
        now = timezone.now()
        for one, two in ((incident, other), (other, incident)):
            one.links = [link for link in one.links if link["incident"] != two.pk]
            one.save(update_fields=["links"])
            timeline_record(
                incident=one, kind=EventKind.UNLINKED, principal=principal, at=now, data={"incident": two.pk}
            )
        return incident


MAX_MERGE_CHAIN = 1000


def incident_merge(*, incident_id: int, principal: Principal, into: int) -> Incident:
    """
    Merge an open incident into another open one of its brand (a manager or the assignee).

    The source is resolved with `merged_into` and the resolution "merged into #N", whatever
    its checklist says; that is final: no review, no review reminder, no reopening. Its
    filings (itself and its duplicates), wave mentions and dedup keys move to the target,
    each key with its record (filer, source state, last firing), so a later filing with its
    key counts there and what its source says lands there; a source still firing re-arms a
    target whose sources had all resolved. The target keeps its own detection time and
    deadlines. Both timelines say so.
    """
    into = int(into)
    with _locked_pair(incident_id, into, principal) as (source, target):
        _require_role(source, principal, Role.RESPONDER)
        if not can_proceed(source.merge):
            raise InvalidTransition(state=source.state)
        if not has_transition_perm(source.merge, principal):
            raise Forbidden(_("Only a manager or the assignee can merge an incident."))
        _check_merge_target(source, target, into)
        now = timezone.now()
        from_state, key, filings = source.state, source.dedup_key, source.duplicate_count + 1
        mentions = (
            WaveMention.objects.for_brands([source.brand_id]).filter(incident=source).update(incident=target)
        )
        if mentions:  # the counters follow the mentions (in id order, as intake adds to them)
            for incident_id in sorted((source.pk, target.pk)):
                wave_tally.tally_recount(incident_id)
        # What the target's sources said before: whether they had stopped its escalation.
        stopped = target.state == State.DETECTED and services.sources_resolved(target)
        moved_keys = MovedDedupKey.objects.for_brands([source.brand_id])
        # The source's key keeps its record: its row if it came to the source by a merge
        # too, else the source's own filer and what its source last said.
        carried = bool(key) and moved_keys.filter(incident=source, dedup_key=key).exists()
        # Keys merged into the source earlier follow it.
        moved_keys.filter(incident=source).update(incident=target)
        source.merge(into=target, at=now)
        source.duplicate_count = 0
        source.save(
            update_fields=[
                "state",
                "merged_into",
                "resolution",
                "resolved_at",
                "dedup_key",
                "duplicate_count",
                "next_escalation_at",
                "sla_warning_at",
                "resolve_escalation_at",
                "review_reminder_at",
                "update_due_at",
            ]
        )
        target.duplicate_count += filings
        target_fields = ["duplicate_count"]
        if key and not target.dedup_key:
            # Saved after the source gave it up: one open incident per key, always. Its
            # row (below) speaks for it there, not the target's own filer.
            target.dedup_key = key
            target_fields.append("dedup_key")
        if key and not carried:
            moved_keys.update_or_create(
                brand_id=source.brand_id,
                dedup_key=key,
                defaults={
                    "incident": target,
                    "reported_by_key_id": source.reported_by_key_id,
                    "reported_by_user_id": source.reported_by_user_id,
                    "source_state": source.source_state,
                    "source_details": source.source_details,
                },
            )
        target.save(update_fields=target_fields)
        if stopped and not services.sources_resolved(target):
            # A source still firing came with the merge: the target escalates again.
            services.escalation_rearmed(target)
        moved = {"dedup_key": key, "filings": filings, "mentions": mentions}
        timeline_record(
            incident=source,
            kind=EventKind.MERGED,
            principal=principal,
            at=now,
            from_state=from_state,
            to_state=source.state,
            data={"into": target.pk, **moved},
        )
        timeline_record(
            incident=target,
            kind=EventKind.MERGED,
            principal=principal,
            at=now,
            data={"from": source.pk, **moved},
        )
        return source


def _check_merge_target(source: Incident, target: Incident | None, into: int) -> None:
    """400 on `into` unless the target is another open incident of the source's brand, and no loop is made."""
    if into == source.pk:
        raise InvalidInput(_("An incident cannot be merged into itself."), field="into")
    if target is None or target.brand_id != source.brand_id:
        raise InvalidInput(_("Not an incident of this brand."), field="into")
    # The target's own merges, followed: one that leads back to the source would make a loop.
    seen, step = {target.pk}, target.merged_into_id
    while step is not None and len(seen) < MAX_MERGE_CHAIN:
        if step == source.pk:
            raise InvalidInput(
                _("#%(target)d was merged into this incident: merging back would make a loop.")
                % {"target": target.pk},
                field="into",
            )
        seen.add(step)
        step = (
            Incident.objects.for_brands([source.brand_id])
            .filter(pk=step)
            .values_list("merged_into_id", flat=True)
            .first()
        )
    if not target.is_open:
        raise InvalidInput(
            _("#%(target)d is closed (%(state)s): merge into an open incident.")
            % {"target": target.pk, "state": State(target.state).label},
            field="into",
        )


# --- Status updates ---------------------------------------------------------------------------


def status_update_post(*, incident_id: int, principal: Principal, body: str, audience: str) -> StatusUpdate:
    """
    A status update to the team (the brand's responders and managers) or to stakeholders
    (its executives and the policy's `stakeholder_emails`), sent through the outbox. On a
    claimed incident it starts the cadence's count again. Refused (409) once the incident
    is closed by review or merge.
    """
    body = _text("body", body)
    if audience not in Audience.values:
        raise InvalidInput(_("Not an audience: team or stakeholders."), field="audience")
    with _locked_incident(incident_id, principal) as incident:
        _require_role(incident, principal, Role.RESPONDER)
        if incident.state == State.REVIEWED or incident.merged_into_id is not None:
            raise InvalidTransition(state=incident.state)
        now = timezone.now()
        update = incident.status_updates.create(
            author=principal.user, audience=audience, body=body, created_at=now
        )
        incident.last_update_at = now
        fields = ["last_update_at"]
        if incident.state in CLAIMED_STATES:
            incident.update_due_at = selectors.next_update_due(incident, now=now)
            fields.append("update_due_at")
        incident.save(update_fields=fields)
        users, addresses = _audience(incident, audience, author=principal.user)
        with translation.override(incident.brand.language):
            sent = _send_update(incident, update, users=users, addresses=addresses, now=now)
        timeline_record(
            incident=incident,
            kind=EventKind.STATUS_UPDATE,
            principal=principal,
            at=now,
            data={
                "audience": audience,
                "body": body,
                "update": update.pk,
                "addresses": len(addresses),
                **outbox.recipients_of(sent),
            },
        )
        clock.schedule_fast_path(incident, now=now)
        return update


def _audience(incident: Incident, audience: str, *, author) -> tuple[list, tuple[str, ...]]:
    """Who hears an update: members (not its author) and, for stakeholders, addresses without accounts."""
    who = reach.Reacher()
    if audience == Audience.TEAM:
        users = who.people(incident.brand_id, roles=[Role.RESPONDER, Role.MANAGER])
        return [u for u in users if u.pk != author.pk], ()
    users = [u for u in who.people(incident.brand_id, roles=["executive"]) if u.pk != author.pk]
    known = {u.email.lower() for u in users if u.email} | {author.email.lower()}
    emails = selectors.updates_policy_for(incident.brand_id)["stakeholder_emails"]
    return users, tuple(email for email in emails if email.lower() not in known)


def _send_update(
    incident: Incident, update: StatusUpdate, *, users: list, addresses: tuple, now: datetime
) -> list:
    subject = messages.subject(EventKind.STATUS_UPDATE, incident)
    payload = messages.payload(
        incident, EventKind.STATUS_UPDATE, {"audience": update.audience, "body": update.body}, now
    )
    sent = [
        outbox.Message(
            incident=incident,
            users=users,
            reason=EventKind.STATUS_UPDATE,
            subject=subject,
            body=messages.status_update_body(incident, update, for_members=True),
            payload=payload,
        )
    ]
    if addresses:  # people without accounts: no link into the console they cannot open
        sent.append(
            outbox.Message(
                incident=incident,
                users=[],
                addresses=addresses,
                reason=EventKind.STATUS_UPDATE,
                subject=subject,
                body=messages.status_update_body(incident, update, for_members=False),
                payload={},
            )
        )
    outbox.enqueue(sent, now=now)
    return [row for message in sent for row in message.notifications]
