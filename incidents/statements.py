"""
Public statements (API.md, "Public statements"): drafted from a response template, versioned,
approved hop by hop on the clock, published with the links where they were posted.

One function per action, in the manner of `services` and `command`: check the caller, lock
the statement row, change it, write the version or decision row and the timeline event;
notifications are outbox rows in the same transaction. The statement row is locked alone (not
its incident): the clock claims due statements with `skip_locked` and then appends to their
incident's timeline, so holding the incident here while waiting for the statement could
deadlock against it.

The route. A brand's hops (`StatementRoute`) are copied onto the statement when it is
submitted (`route`), as an incident keeps the escalation chain it opened with: editing the
brand's route mid-approval changes no running approval. Each hop is decided by any one of
its people — its roles, users, and whoever is on call on its schedules at that moment — but
never by an author of the statement (its creator, or whoever wrote the version at hand).
A hop's clock starts when it becomes current (`hop_due_at`, a timer of the clock like the
incident's: `clock._fire_statement_hops` escalates it to the managers once per version and
hop). A run of the route is a `round`: each submission and each edit after submission
starts a new one, so the decisions shown are those of the current round.
"""

import difflib
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from api.errors import Conflict, Forbidden, InvalidInput, NotFound
from crisis.models import Brand, Channel, Role
from crisis.tenancy import Principal
from playbooks.models import ResponseTemplate

from . import messages, outbox, reach
from .errors import InvalidTransition, StaleVersion
from .models import (
    DecisionKind,
    EventKind,
    Incident,
    Statement,
    StatementDecision,
    StatementRoute,
    StatementState,
    StatementVersion,
)
from .publish import TASKS, publish_on_commit
from .selectors import incidents_visible_to, reply_render
from .services import _text
from .timeline import timeline_record

EDITABLE = (StatementState.DRAFT, StatementState.IN_APPROVAL)


class RouteMissing(Conflict):
    code = "conflict"
    default_detail = _("The brand has no approval route for statements: a manager sets one first.")


# --- The brand's route ------------------------------------------------------------------------


def route_of(brand_id: int) -> list[dict]:
    """The brand's hops, each with all its keys; [] when it has none."""
    row = StatementRoute.objects.for_brands([brand_id]).filter(brand_id=brand_id).first()
    return [_hop_shape(hop) for hop in (row.hops if row else [])]


def statement_route_set(*, brand: Brand, hops: list[dict]) -> list[dict]:
    """Replace the brand's route (managers; checked by the caller). Running approvals keep theirs."""
    hops = [_hop_shape(hop) for hop in hops]
    StatementRoute.objects.for_brands([brand.pk]).update_or_create(brand=brand, defaults={"hops": hops})
    return hops


def _hop_shape(hop: dict) -> dict:
    return {
        "name": hop.get("name") or "",
        "roles": list(hop.get("roles") or []),
        "users": list(hop.get("users") or []),
        "schedules": list(hop.get("schedules") or []),
        "within_seconds": int(hop.get("within_seconds") or 0),
    }


def hop_people(brand_id: int, hop: dict, *, who: reach.Reacher) -> list:
    """The active members who may decide `hop` at `who.at`: its roles, its users, whoever is on call."""
    on_call = who.on_call(brand_id, hop.get("schedules") or ())
    on_duty = sorted({user for found in on_call for user in found.users})
    return who.people(brand_id, hop.get("roles") or (), [*(hop.get("users") or ()), *on_duty])


# --- Reading ----------------------------------------------------------------------------------


def visible_incident(incident_id, principal: Principal) -> Incident:
    incident = incidents_visible_to(principal).select_related("brand").filter(pk=incident_id).first()
    if incident is None:
        raise NotFound()
    return incident


def statements_of(incident: Incident):
    """The incident's statements, newest first, with what their answers show (a fixed number of queries)."""
    return (
        Statement.objects.for_brands([incident.brand_id])
        .filter(incident=incident)
        .select_related("author", "incident")
        .prefetch_related(
            Prefetch(
                "decisions", queryset=StatementDecision.all_brands.select_related("by").order_by("at", "id")
            ),
            Prefetch(
                "versions", queryset=StatementVersion.all_brands.select_related("author").order_by("number")
            ),
        )
    )


def statement_of(*, incident_id, statement_id, principal: Principal) -> Statement:
    """One statement of an incident the caller can see; 404 otherwise."""
    incident = visible_incident(incident_id, principal)
    statement = statements_of(incident).filter(pk=statement_id).first()
    if statement is None:
        raise NotFound()
    return statement


def statement_diff(statement: Statement, *, older: int, newer: int) -> str:
    """A unified diff (difflib) of two versions of the statement's text; 404 for a version it never had."""
    bodies = dict(
        StatementVersion.all_brands.filter(statement=statement, number__in=[older, newer]).values_list(
            "number", "body"
        )
    )
    if older not in bodies or newer not in bodies:
        raise NotFound(_("No such version of this statement."))
    lines = difflib.unified_diff(
        bodies[older].splitlines(),
        bodies[newer].splitlines(),
        fromfile=f"version {older}",
        tofile=f"version {newer}",
        lineterm="",
    )
    return "\n".join(lines)


def hops_shown(
    statement: Statement, *, who: reach.Reacher, brand_route: list[dict] | None = None
) -> list[dict]:
    """
    The route with each hop's state in the current round: `approved`, `rejected`, `current`
    (with who may decide it now, and when its time runs out) or `pending`. A statement never
    submitted shows the brand's route (`brand_route`) as it stands.
    """
    route = (
        statement.route
        if statement.round
        else (brand_route if brand_route is not None else route_of(statement.incident.brand_id))
    )
    decisions = [d for d in statement.decisions.all() if d.round == statement.round and statement.round]
    versions = list(statement.versions.all())  # prefetched by `statements_of`
    authors = {statement.author_id, *(v.author_id for v in versions[-1:])}
    shown = []
    for index, hop in enumerate(route):
        mine = [d for d in decisions if d.hop == index]
        decided = next((d for d in mine if d.kind != DecisionKind.ESCALATED), None)
        escalated = next((d for d in mine if d.kind == DecisionKind.ESCALATED), None)
        current = statement.state == StatementState.IN_APPROVAL and index == statement.hop
        entry = {
            **_hop_shape(hop),
            "number": index + 1,
            "state": decided.kind if decided else ("current" if current else "pending"),
            "decision": decided.kind if decided else None,
            "by": decided.by.get_username() if decided and decided.by_id else None,
            "at": decided.at if decided else None,
            "comment": decided.comment if decided else "",
            "started_at": statement.hop_started_at if current else None,
            "due_at": (statement.hop_started_at + timedelta(seconds=hop["within_seconds"]))
            if current and statement.hop_started_at
            else None,
            "escalated_at": escalated.at if escalated else None,
            # Who may decide it now: its people, the statement's authors left out.
            "people": (
                [
                    u.get_username()
                    for u in hop_people(statement.incident.brand_id, hop, who=who)
                    if u.pk not in authors
                ]
                if current
                else None
            ),
        }
        shown.append(entry)
    return shown


def statement_answer(
    statement: Statement, *, who: reach.Reacher, brand_route=None, versions: bool = True
) -> dict:
    """A statement as the API shows it."""
    answer = {
        "id": statement.pk,
        "incident": statement.incident_id,
        "state": statement.state,
        "version": statement.version,
        "body": statement.body,
        "channels": list(statement.channels),
        "language": statement.language,
        "author": statement.author.get_username(),
        "template": statement.template_id,
        "created_at": statement.created_at,
        "submitted_at": statement.submitted_at,
        "approved_at": statement.approved_at,
        "published_at": statement.published_at,
        "current_hop": statement.hop + 1 if statement.state == StatementState.IN_APPROVAL else None,
        "hops": hops_shown(statement, who=who, brand_route=brand_route),
        "links": dict(statement.links),
    }
    if versions:
        answer["versions"] = [
            {
                "number": v.number,
                "author": v.author.get_username(),
                "created_at": v.created_at,
                "body": v.body,
                "channels": list(v.channels),
                "language": v.language,
            }
            for v in statement.versions.all()
        ]
    return answer


# --- Writing ----------------------------------------------------------------------------------


def _checked_fields(*, channels, language, body) -> dict:
    """Channels, language and text within the desk's rules; InvalidInput names the field."""
    channels = list(dict.fromkeys(channels or []))
    if not channels:
        raise InvalidInput(_("Name at least one channel."), field="channels")
    unknown = [c for c in channels if c not in Channel.values]
    if unknown:
        raise InvalidInput(
            _("Not channels of ours: %s") % ", ".join(map(str, unknown))[:200], field="channels"
        )
    if language not in dict(settings.LANGUAGES):
        raise InvalidInput(_("Not a language of the desk."), field="language")
    return {"channels": channels, "language": language, "body": _text("body", body)}


def _locked_statement(incident: Incident, statement_id) -> Statement:
    """The statement row, locked for the enclosing transaction (its incident alone is not locked)."""
    statement = (
        Statement.objects.for_brands([incident.brand_id])
        .select_for_update(of=("self",))
        .select_related("incident__brand", "author")
        .filter(pk=statement_id, incident=incident)
        .first()
    )
    if statement is None:
        raise NotFound()
    return statement


def statement_create(
    *,
    incident_id,
    principal: Principal,
    channels: list[str],
    language: str | None = None,
    body: str | None = None,
    template: int | None = None,
    values: dict | None = None,
) -> Statement:
    """
    A draft (responders and managers), version 1. With `template`, a response template the
    brand may use, its placeholders filled from the incident and `values`, gives the text
    when `body` is not given, and the language when `language` is not.
    """
    incident = visible_incident(incident_id, principal)
    if not principal.has_role(incident.brand_id, Role.RESPONDER):
        raise Forbidden(_("Responders and managers write statements."))
    if incident.merged_into_id is not None:
        raise InvalidTransition(state=incident.state)
    chosen = None
    if template is not None:
        chosen = ResponseTemplate.objects.for_brands([incident.brand_id]).filter(pk=template).first()
        if chosen is None:
            raise InvalidInput(_("No such response template."), field="template")
        if not body:
            body = reply_render(template=chosen, incident=incident, values=values or {})["text"]
        language = language or chosen.language
    fields = _checked_fields(channels=channels, language=language or incident.brand.language, body=body)
    now = timezone.now()
    with transaction.atomic():
        statement = Statement.objects.create(
            incident=incident, author=principal.user, template=chosen, created_at=now, **fields
        )
        StatementVersion.objects.create(
            statement=statement, number=1, author=principal.user, created_at=now, **fields
        )
        timeline_record(
            incident=incident,
            kind=EventKind.STATEMENT_DRAFTED,
            principal=principal,
            at=now,
            data={
                "statement": statement.pk,
                "version": 1,
                "channels": fields["channels"],
                "template": template,
            },
        )
    return statement


def statement_edit(
    *,
    incident_id,
    statement_id,
    principal: Principal,
    channels: list[str],
    body: str,
    language: str | None = None,
) -> Statement:
    """
    A new version (responders and managers) until the statement is approved. After submission
    the decisions are cleared and the route starts again at its first hop. The same text,
    channels and language again make no version.
    """
    incident = visible_incident(incident_id, principal)
    if not principal.has_role(incident.brand_id, Role.RESPONDER):
        raise Forbidden(_("Responders and managers write statements."))
    with transaction.atomic():
        statement = _locked_statement(incident, statement_id)
        if statement.state not in EDITABLE:
            raise InvalidTransition(
                _("An approved or published statement cannot be edited: write a new one."),
                state=statement.state,
            )
        fields = _checked_fields(channels=channels, language=language or statement.language, body=body)
        if all(getattr(statement, name) == value for name, value in fields.items()):
            return statement
        now = timezone.now()
        statement.version += 1
        for name, value in fields.items():
            setattr(statement, name, value)
        StatementVersion.objects.create(
            statement=statement, number=statement.version, author=principal.user, created_at=now, **fields
        )
        updated = ["version", "channels", "language", "body", "round"]
        restarted = statement.state == StatementState.IN_APPROVAL
        sent = []
        if restarted:
            statement.round += 1
            updated += _start_hop(statement, 0, now=now)
            sent = _tell_hop(statement, now=now, reason="statement_hop")
        statement.save(update_fields=updated)
        timeline_record(
            incident=incident,
            kind=EventKind.STATEMENT_EDITED,
            principal=principal,
            at=now,
            data={
                "statement": statement.pk,
                "version": statement.version,
                "restarted": restarted,
                **outbox.recipients_of(sent),
            },
        )
        return statement


def statement_submit(*, incident_id, statement_id, principal: Principal) -> Statement:
    """A draft enters the brand's route at its first hop (responders and managers); no route: 409."""
    incident = visible_incident(incident_id, principal)
    if not principal.has_role(incident.brand_id, Role.RESPONDER):
        raise Forbidden(_("Responders and managers submit statements."))
    with transaction.atomic():
        statement = _locked_statement(incident, statement_id)
        if statement.state != StatementState.DRAFT:
            raise InvalidTransition(_("Only a draft can be submitted."), state=statement.state)
        route = route_of(incident.brand_id)
        if not route:
            raise RouteMissing()
        now = timezone.now()
        statement.route = route
        statement.round += 1
        statement.state = StatementState.IN_APPROVAL
        statement.submitted_at = now
        updated = ["route", "round", "state", "submitted_at", *_start_hop(statement, 0, now=now)]
        statement.save(update_fields=updated)
        sent = _tell_hop(statement, now=now, reason="statement_hop")
        timeline_record(
            incident=incident,
            kind=EventKind.STATEMENT_SUBMITTED,
            principal=principal,
            at=now,
            data={**_hop_data(statement), "due_at": _iso(statement.hop_due_at), **outbox.recipients_of(sent)},
        )
        return statement


def statement_decide(
    *,
    incident_id,
    statement_id,
    principal: Principal,
    approve: bool,
    comment: str = "",
    version: int | None = None,
) -> Statement:
    """
    A person of the current hop approves it (the next hop becomes current, or the statement
    is approved after the last) or rejects it (back to draft, with the comment the author
    needs). Anyone else — the statement's authors included — gets a 403. `version`, when
    given, is the version the person read: a decision on text they have not seen is a 409.
    """
    comment = _text("comment", comment, required=not approve)
    incident = visible_incident(incident_id, principal)
    with transaction.atomic():
        statement = _locked_statement(incident, statement_id)
        now = timezone.now()
        _check_decider(statement, principal, now=now, version=version)
        data = _hop_data(statement)
        StatementDecision.objects.create(
            statement=statement,
            round=statement.round,
            version=statement.version,
            hop=statement.hop,
            kind=DecisionKind.APPROVED if approve else DecisionKind.REJECTED,
            by=principal.user,
            comment=comment,
            at=now,
        )
        sent = []
        if not approve:
            statement.state = StatementState.DRAFT
            statement.hop_due_at = statement.hop_started_at = None
            updated = ["state", "hop_due_at", "hop_started_at"]
            with translation.override(incident.brand.language):
                sent = _notify(
                    statement,
                    [statement.author],
                    reason="statement_rejected",
                    now=now,
                    rejected_by=principal.user.get_username(),
                    comment=comment,
                )
            kind = EventKind.STATEMENT_REJECTED
        elif statement.hop + 1 < len(statement.route):
            updated = _start_hop(statement, statement.hop + 1, now=now)
            sent = _tell_hop(statement, now=now, reason="statement_hop")
            kind = EventKind.STATEMENT_APPROVED
            data["next_hop"] = statement.hop + 1
        else:
            statement.state = StatementState.APPROVED
            statement.approved_at = now
            statement.hop_due_at = statement.hop_started_at = None
            updated = ["state", "approved_at", "hop_due_at", "hop_started_at"]
            with translation.override(incident.brand.language):
                sent = _notify(statement, [statement.author], reason="statement_approved", now=now)
            kind = EventKind.STATEMENT_APPROVED
            data["approved"] = True
        statement.save(update_fields=updated)
        timeline_record(
            incident=incident,
            kind=kind,
            principal=principal,
            at=now,
            data={**data, "comment": comment, **outbox.recipients_of(sent)},
        )
        return statement


def statement_decider_check(*, incident_id, statement_id, principal: Principal, version: int | None = None):
    """
    Whether `principal` may decide the statement now (the rules of `statement_decide`,
    without deciding): the same 404, 403 and 409. For a decision asked in two steps —
    a Telegram Reject asks for its comment before it is made.
    """
    incident = visible_incident(incident_id, principal)
    statement = (
        Statement.objects.for_brands([incident.brand_id])
        .select_related("incident__brand")
        .filter(pk=statement_id, incident=incident)
        .first()
    )
    if statement is None:
        raise NotFound()
    _check_decider(statement, principal, now=timezone.now(), version=version)
    return statement


def _check_decider(statement: Statement, principal: Principal, *, now: datetime, version: int | None) -> None:
    if statement.state != StatementState.IN_APPROVAL:
        raise InvalidTransition(_("The statement is not in approval."), state=statement.state)
    hop = statement.route[statement.hop]
    people = {u.pk for u in hop_people(statement.incident.brand_id, hop, who=reach.Reacher(at=now))}
    if principal.user_id not in people:
        raise Forbidden(_("Only a person of the current hop can decide it."))
    if principal.user_id in _authors(statement):
        raise Forbidden(_("The author of a statement cannot approve it."))
    if version is not None and version != statement.version:
        raise StaleVersion(
            _("The statement was edited after the version you read: version %(version)d is current.")
            % {"version": statement.version},
            version=statement.version,
        )


def statement_publish(*, incident_id, statement_id, principal: Principal, links: dict[str, str]) -> Statement:
    """
    An approved statement was posted: a link for each of its channels (responders and
    managers). The incident's first published statement is kept on it for the reports.
    """
    incident = visible_incident(incident_id, principal)
    if not principal.has_role(incident.brand_id, Role.RESPONDER):
        raise Forbidden(_("Responders and managers publish statements."))
    with transaction.atomic():
        statement = _locked_statement(incident, statement_id)
        if statement.state != StatementState.APPROVED:
            raise InvalidTransition(
                _("A statement is published once every hop of its route has approved it."),
                state=statement.state,
            )
        missing = [c for c in statement.channels if not (links or {}).get(c)]
        extra = [c for c in (links or {}) if c not in statement.channels]
        if missing or extra:
            raise InvalidInput(
                _("One link for each channel of the statement: %s") % ", ".join(statement.channels),
                field="links",
            )
        now = timezone.now()
        statement.links = {c: links[c] for c in statement.channels}
        statement.state = StatementState.PUBLISHED
        statement.published_at = now
        statement.save(update_fields=["links", "state", "published_at"])
        # A conditional UPDATE, not a read-then-write: the first publication wins, whatever races.
        Incident.all_brands.filter(pk=incident.pk, first_statement_at__isnull=True).update(
            first_statement_at=now
        )
        timeline_record(
            incident=incident,
            kind=EventKind.STATEMENT_PUBLISHED,
            principal=principal,
            at=now,
            data={"statement": statement.pk, "version": statement.version, "links": statement.links},
        )
        return statement


# --- Helpers ----------------------------------------------------------------------------------


def _authors(statement: Statement) -> set[int]:
    """Who may not approve: the statement's creator and the author of the version at hand."""
    editor = (
        StatementVersion.all_brands.filter(statement=statement, number=statement.version)
        .values_list("author_id", flat=True)
        .first()
    )
    return {statement.author_id, editor}


def _start_hop(statement: Statement, index: int, *, now: datetime) -> list[str]:
    """Make hop `index` current: its clock starts now (unless it already escalated for this version)."""
    statement.hop = index
    statement.hop_started_at = now
    within = statement.route[index]["within_seconds"]
    escalated = StatementDecision.all_brands.filter(
        statement=statement, version=statement.version, hop=index, kind=DecisionKind.ESCALATED
    ).exists()
    statement.hop_due_at = None if escalated or not within else now + timedelta(seconds=within)
    if statement.hop_due_at is not None and statement.hop_due_at <= now + timedelta(
        seconds=settings.ESCALATION_ETA_WINDOW_SECONDS
    ):
        # The fast path: a sweep at the moment the hop runs out (the beat's tick covers a lost one).
        publish_on_commit(TASKS.SWEEP_EARLY, eta=statement.hop_due_at)
    return ["hop", "hop_started_at", "hop_due_at"]


def _hop_data(statement: Statement) -> dict:
    hop = statement.route[statement.hop]
    return {
        "statement": statement.pk,
        "version": statement.version,
        "hop": statement.hop + 1,
        "hop_name": hop["name"],
    }


def _iso(at):
    return at.isoformat() if at else None


def _tell_hop(statement: Statement, *, now: datetime, reason: str) -> list:
    """Tell the people of the hop that just became current that the statement awaits them."""
    hop = statement.route[statement.hop]
    authors = _authors(statement)
    people = [
        u
        for u in hop_people(statement.incident.brand_id, hop, who=reach.Reacher(at=now))
        if u.pk not in authors
    ]
    with translation.override(statement.incident.brand.language):
        return _notify(statement, people, reason=reason, now=now, hop=hop["name"])


def _notify(
    statement: Statement,
    users: list,
    *,
    reason: str,
    now: datetime,
    rejected_by: str = "",
    comment: str = "",
    **values,
) -> list:
    if not users:
        return []
    incident = statement.incident
    if rejected_by:  # the author needs who rejected it and why, in the message and its payload
        values.update(rejected_by=rejected_by, comment=comment)
    message = outbox.Message(
        incident=incident,
        users=users,
        reason=reason,
        subject=messages.subject(reason, incident, **values),
        body=messages.statement_body(statement, rejected_by=rejected_by, comment=comment),
        payload=messages.payload(
            incident, reason, {"statement": statement.pk, "version": statement.version, **values}, now
        ),
    )
    outbox.enqueue([message], now=now)
    return message.notifications
