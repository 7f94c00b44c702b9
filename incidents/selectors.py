"""Reads of incidents, always scoped to what the caller may see."""

import math
import re
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.fields.tuple_lookups import TupleGreaterThan, TupleLessThan
from django.db.models.functions import Floor
from django.utils import timezone
from django.utils.translation import gettext as _

from api.errors import InvalidInput
from crisis.detection import policy_for as detection_policy_for
from crisis.models import Mention, Role
from crisis.tenancy import Principal
from playbooks import placeholders
from playbooks.models import ChecklistStep, ResponseTemplate

from . import chain as chains
from . import messages, reach, sla
from .models import (
    OPEN_STATES,
    SEVERITY_RANK,
    EscalationPolicy,
    EventKind,
    FollowUp,
    Incident,
    MovedDedupKey,
    Notification,
    SlaPolicy,
    SourceState,
    State,
    StatusUpdate,
    TimelineEvent,
    UpdatesPolicy,
    WaveMention,
)
from .sla import DEFAULT_TARGETS, DEFAULT_UPDATE_CADENCE, SlaTarget


@dataclass(frozen=True)
class KeyHolder:
    """
    The open incident that carries a dedup key, and the key's own record there: who filed
    it and what its source last said. For a key the incident was filed with, that is the
    incident's own columns; for one that came to it by a merge, its `MovedDedupKey` row.
    """

    incident_id: int
    moved: bool
    reported_by_key_id: int | None
    reported_by_user_id: int | None
    source_state: str
    source_details: dict


_RECORD = ("reported_by_key_id", "reported_by_user_id", "source_state", "source_details")


def moved_keys(brand_id: int, keys) -> QuerySet[MovedDedupKey]:
    """
    The rows of `keys` (an iterable of dedup keys) that a merge moved to an open incident
    of the brand (`command.incident_merge`): how filing, waves and the adapters follow a
    moved key, after the open incidents' own keys.
    """
    return MovedDedupKey.objects.for_brands([brand_id]).filter(
        dedup_key__in=list(keys), incident__state__in=OPEN_STATES
    )


def moved_key_incident_id(brand_id: int, dedup_key: str) -> int | None:
    """The open incident of the brand that `dedup_key` was merged into, if any."""
    return moved_keys(brand_id, [dedup_key]).values_list("incident_id", flat=True).first()


def open_incident_with_key(brand_id: int, dedup_key: str) -> KeyHolder | None:
    """
    The brand's open incident that carries `dedup_key`, whoever filed it: the one whose own
    key it is, else the one a merge moved it to; in the order filing counts duplicates
    (`filing._count_duplicate`), so what a key's source says lands where its firings count.
    """
    if not dedup_key:
        return None
    own = (
        Incident.objects.for_brands([brand_id])
        .filter(dedup_key=dedup_key, state__in=OPEN_STATES)
        .values("id", *_RECORD)
        .first()
    )
    moved = moved_keys(brand_id, [dedup_key]).values("incident_id", *_RECORD).first()
    if moved is not None and (own is None or own["id"] == moved["incident_id"]):
        # A key moved onto a target that had none is the target's `dedup_key`; its row speaks for it.
        return KeyHolder(moved["incident_id"], True, *(moved[name] for name in _RECORD))
    if own is not None:
        return KeyHolder(own["id"], False, *(own[name] for name in _RECORD))
    return None


def incidents_visible_to(principal: Principal) -> QuerySet[Incident]:
    """Members see their brands' incidents; an integration key sees only what it filed."""
    incidents = Incident.objects.visible_to(principal)
    if principal.key is not None:
        incidents = incidents.filter(reported_by_key=principal.key)
    return incidents


def checklists_for_display(steps: QuerySet[ChecklistStep]) -> QuerySet[ChecklistStep]:
    """Checklist steps as the output serializer shows them, in order."""
    return steps.select_related("completed_by").order_by("position", "id")


def _with_severity_rank(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """`severity_rank` (critical 0 … low 3), which IncidentFilter's `ordering=severity` sorts by."""
    return incidents.annotate(
        severity_rank=Case(
            *(When(severity=sev, then=Value(rank)) for sev, rank in SEVERITY_RANK.items()),
            output_field=IntegerField(),
        )
    )


def _for_display(
    incidents: QuerySet[Incident], *, steps: QuerySet[ChecklistStep], follow_ups: QuerySet[FollowUp]
) -> QuerySet[Incident]:
    """`incidents` with everything the output serializer reads, in a fixed number of queries."""
    return _with_severity_rank(
        incidents.select_related(
            "brand", "assignee", "reported_by_user", "reported_by_key", "commander", "comms_lead", "scribe"
        ).prefetch_related(
            Prefetch("checklist", queryset=checklists_for_display(steps)),
            Prefetch("follow_ups", queryset=follow_ups.select_related("owner")),
        )
    )


def incidents_for_lists(principal: Principal) -> QuerySet[Incident]:
    """Visible incidents with what a console list shows (brand, assignee), for IncidentFilter."""
    return _with_severity_rank(incidents_visible_to(principal).select_related("brand", "assignee"))


# Claimed incidents count down to their resolve deadline; unclaimed ones to acknowledging.
CLAIMED_STATES = (State.ACKNOWLEDGED, State.INVESTIGATED)


def _moved_key_firing() -> Exists:
    """Whether a key merged into the incident is still firing (or acknowledged) at its source."""
    return Exists(
        MovedDedupKey.all_brands.filter(incident_id=OuterRef("pk")).exclude(source_state=SourceState.RESOLVED)
    )


def queue_order(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """
    The queue's order, most urgent first (README, "The web console"):

    1. Unclaimed (detected) incidents, soonest acknowledge deadline first, so the one
       overdue longest is at the top: nobody is working it yet. Those whose source
       (PagerDuty, an alert group) has since said "resolved" come after the ones still
       firing, in the same order: they stopped escalating, a person still closes them.
       One that carries keys merged into it has stopped only when every one of them
       has resolved too (`services.incident_source_resolved`).
    2. Claimed ones (acknowledged, investigated), soonest resolve deadline first: their
       owner is on them, and the acknowledge deadline no longer means anything.
    3. Closed ones (resolved, reviewed: only when a state filter asks for them), the
       latest resolved first.
    Ties go to the one filed first.
    """
    return incidents.annotate(
        queue_tier=Case(
            When(
                Q(state=State.DETECTED, source_state=SourceState.RESOLVED) & ~_moved_key_firing(),
                then=Value(1),
            ),
            When(state=State.DETECTED, then=Value(0)),
            When(state__in=CLAIMED_STATES, then=Value(2)),
            default=Value(3),
            output_field=IntegerField(),
        ),
        queue_due_at=Case(
            When(state=State.DETECTED, then=F("ack_due_at")),
            When(state__in=CLAIMED_STATES, then=F("resolve_due_at")),
            default=None,
            output_field=DateTimeField(),
        ),
    ).order_by(
        "queue_tier",
        F("queue_due_at").asc(nulls_last=True),
        F("resolved_at").desc(nulls_last=True),
        "id",
    )


def incidents_awaiting_review(principal: Principal) -> QuerySet[Incident]:
    """Resolved, not yet reviewed incidents of the brands the caller manages, the longest waiting first."""
    incidents = incidents_for_lists(principal).filter(state=State.RESOLVED)
    brand_ids = principal.brand_ids()
    if brand_ids is not None:  # None: a superuser, a manager everywhere
        incidents = incidents.filter(
            brand_id__in=[pk for pk in brand_ids if principal.has_role(pk, Role.MANAGER)]
        )
    return incidents.order_by("resolved_at", "id")


def incidents_for_display(principal: Principal) -> QuerySet[Incident]:
    """Visible incidents with everything the output serializer reads."""
    return _for_display(
        incidents_visible_to(principal),
        steps=ChecklistStep.objects.visible_to(principal),
        follow_ups=FollowUp.objects.visible_to(principal),
    )


def incident_for_display(incident: Incident) -> Incident:
    """
    An incident the caller has just acted on, read back for the output serializer.

    The service already checked access; this reads by the incident's brand, not by
    what the caller may list (a key that hit another filer's open incident with its
    dedup_key gets that incident, as API.md says).
    """
    brands = [incident.brand_id]
    return _for_display(
        Incident.objects.for_brands(brands),
        steps=ChecklistStep.objects.for_brands(brands),
        follow_ups=FollowUp.objects.for_brands(brands),
    ).get(pk=incident.pk)


def status_updates_of(incident: Incident) -> QuerySet[StatusUpdate]:
    """The incident's status updates, newest first, with their authors."""
    return incident.status_updates.select_related("author").order_by("-created_at", "-id")


def timeline_of(incident: Incident) -> QuerySet[TimelineEvent]:
    return incident.events.order_by("at", "id")


def chain_for(brand_id: int) -> dict:
    """The brand's escalation chain as set (the default when none is), to snapshot onto a new incident."""
    policy = EscalationPolicy.objects.for_brands([brand_id]).first()
    return policy.chain if policy is not None else chains.DEFAULT_CHAIN


def sla_targets_for(brand_id: int) -> dict[str, SlaTarget]:
    """The brand's targets per severity: its own rows over the defaults."""
    targets = dict(DEFAULT_TARGETS)
    for policy in SlaPolicy.objects.for_brands([brand_id]):
        targets[policy.severity] = SlaTarget(policy.ack_seconds, policy.resolve_seconds)
    return targets


def updates_policy_for(brand_id: int) -> dict:
    """The brand's status-update policy as the API shows it: the defaults where it set none."""
    policy = UpdatesPolicy.objects.for_brands([brand_id]).first()
    if policy is None:
        return {"cadence_seconds": dict(DEFAULT_UPDATE_CADENCE), "stakeholder_emails": []}
    return {
        "cadence_seconds": {**DEFAULT_UPDATE_CADENCE, **policy.cadence_seconds},
        "stakeholder_emails": list(policy.stakeholder_emails),
    }


def update_cadences(brand_ids) -> dict[int, dict[str, int | None]]:
    """Seconds between status updates per severity (None: none due), for each brand, in one query."""
    found = {brand_id: dict(DEFAULT_UPDATE_CADENCE) for brand_id in brand_ids}
    for brand_id, cadence in UpdatesPolicy.objects.for_brands(found).values_list(
        "brand_id", "cadence_seconds"
    ):
        found[brand_id].update(cadence)
    return found


def next_update_due(incident: Incident, *, now, reminded_at=None, acknowledged_at=None):
    """
    When the incident's next status update is due on its brand's cadence for its severity
    (`sla.update_due_at`); `acknowledged_at` for an incident being claimed now.
    """
    cadence = update_cadences([incident.brand_id])[incident.brand_id].get(incident.severity)
    return sla.update_due_at(
        acknowledged_at=acknowledged_at or incident.acknowledged_at,
        last_update_at=incident.last_update_at,
        cadence_seconds=cadence,
        now=now,
        reminded_at=reminded_at,
    )


def reply_defaults(incident: Incident) -> dict[str, str]:
    """What the incident itself can fill in a reply template (empty: it cannot)."""
    assignee = incident.assignee
    return {
        "brand": incident.brand.name,
        "title": incident.title,
        "channel": incident.get_channel_display() if incident.channel else "",
        "responder": (assignee.get_full_name() or assignee.get_username()) if assignee else "",
        "incident_id": str(incident.pk),
        "detected_at": f"{incident.detected_at:%Y-%m-%d %H:%M} UTC",
    }


def reply_render(*, template: ResponseTemplate, incident: Incident, values: dict[str, str]) -> dict:
    """Fill a template from the incident and the caller's values; 400 naming any gap or stranger."""
    try:
        names = placeholders.placeholders(template.body)
    except placeholders.TemplateError:
        # Saved around the API's check (the admin, an old row): the template is at fault, not the caller.
        raise InvalidInput(
            _("This template is malformed; a manager must correct it."), field="template"
        ) from None
    from_incident = reply_defaults(incident)
    errors = {name: [_("Unknown placeholder.")] for name in values if name not in names}
    filled, sources = {}, {"incident": [], "values": []}
    for name in names:
        if values.get(name):
            filled[name] = values[name]
            sources["values"].append(name)
        elif from_incident.get(name):
            filled[name] = from_incident[name]
            sources["incident"].append(name)
        else:
            errors[name] = [_("No value for this placeholder.")]
    if errors:
        raise InvalidInput(errors, field="values")
    return {
        "text": placeholders.fill(template.body, filled),
        "placeholders": names,
        "filled_from_incident": sources["incident"],
        "filled_from_values": sources["values"],
    }


# The wave's chart: mentions counted per bucket of at least 5 minutes, widened so that no
# span gives more than WAVE_MAX_POINTS buckets (a week-long wave: 2,016 of 5 minutes).
WAVE_BUCKET_SECONDS = 300
WAVE_MAX_POINTS = 288


class _SecondsSince(Func):
    """Seconds from `start` to a time column, in SQL (PostgreSQL and SQLite), to group mentions by bucket."""

    output_field = FloatField()

    def __init__(self, column: str, start):
        super().__init__(F(column), Value(start, output_field=DateTimeField()))

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="EXTRACT(EPOCH FROM (%(expressions)s))", arg_joiner=" - "
        )

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
        )


def wave_bucket_seconds(since, until) -> int:
    """The width of the chart's buckets for the span [since, until): 5 minutes, or wider for a long span."""
    span = max((until - since).total_seconds(), 0)
    return WAVE_BUCKET_SECONDS * max(1, math.ceil(span / (WAVE_BUCKET_SECONDS * WAVE_MAX_POINTS)))


def wave_figures(incident: Incident, *, now) -> dict:
    """
    The wave behind an incident, and whether the response helped: the brand's
    share of negative mentions before the claim, between claim and resolve,
    and after the resolve (for as long as the claim-to-resolve stretch, at most a day).

    Every figure is an aggregate computed in the database: however many mentions the
    wave holds, this fetches a handful of rows and at most WAVE_MAX_POINTS buckets.
    """
    brand_mentions = Mention.objects.for_brands([incident.brand_id])
    attached = brand_mentions.filter(wave_link__incident=incident)
    stats = attached.aggregate(
        n=Count("id"), reach=Sum("reach"), negative=Count("id", filter=Q(sentiment="negative"))
    )
    start = incident.detected_at
    claimed, resolved = incident.acknowledged_at, incident.resolved_at
    after_end = (
        min(
            resolved + max(resolved - (claimed or start), timedelta(minutes=30)), resolved + timedelta(days=1)
        )
        if resolved
        else None
    )

    def share(since, until):
        if since is None or until is None or until <= since:
            return None
        rows = brand_mentions.filter(published_at__gte=since, published_at__lt=until).aggregate(
            n=Count("id"), negative=Count("id", filter=Q(sentiment="negative"))
        )
        return {
            "mentions": rows["n"],
            "negative": rows["negative"],
            "negative_share": round(rows["negative"] / rows["n"], 4) if rows["n"] else None,
        }

    end = min(after_end or now, now)
    width = wave_bucket_seconds(start, end)
    buckets = (
        brand_mentions.filter(published_at__gte=start, published_at__lt=end)
        .order_by()
        .values(bucket=Floor(_SecondsSince("published_at", start) / width))
        .annotate(mentions=Count("id"), negative=Count("id", filter=Q(sentiment="negative")))
        .order_by("bucket")
    )
    return {
        "mentions": stats["n"],
        "total_reach": stats["reach"] or 0,
        "negative_share": round(stats["negative"] / stats["n"], 4) if stats["n"] else None,
        "before_claim": share(start, claimed or now),
        "after_claim": share(claimed, resolved or now) if claimed else None,
        "after_resolve": share(resolved, min(after_end, now)) if resolved else None,
        "bucket_seconds": width,
        "series": [
            {
                "at": start + timedelta(seconds=int(row["bucket"]) * width),
                "mentions": row["mentions"],
                "negative": row["negative"],
            }
            for row in buckets
        ],
    }


# A page of a wave's mentions, loudest first; the API's page_size may ask for up to the maximum.
WAVE_PAGE_SIZE = 50
WAVE_MAX_PAGE_SIZE = 200
_CURSOR = re.compile(r"^([np])-([0-9]{1,20})-([0-9]{1,20})$")


@dataclass(frozen=True)
class MentionPage:
    mentions: list[dict]
    next: str | None  # cursors: pass one back as `cursor` for the page after or before this one
    previous: str | None


def wave_mentions_page(
    incident: Incident, *, cursor: str | None = None, size: int = WAVE_PAGE_SIZE
) -> MentionPage:
    """
    One page of the mentions attached to the incident, highest reach first (ties: newest id first).

    Keyset paging on the index `wave_by_reach` (incident, reach, mention): a page reads
    `size + 1` index entries from the cursor's position and their mentions by primary
    key, at any depth of a 100,000-mention wave, where an OFFSET would read every row
    before it. A cursor is "n-<reach>-<id>" (the page after that mention) or
    "p-<reach>-<id>" (the page before it); anything else is a 400 naming `cursor`.
    Authors with at least the brand's `follower_threshold` followers are marked `loud`.
    """
    key = None
    if cursor:
        found = _CURSOR.match(cursor)
        if found is None or int(found[2]) > 2**63 - 1 or int(found[3]) > 2**63 - 1:
            raise InvalidInput(_("Not a cursor of this list."), field="cursor")
        key = (found[1], int(found[2]), int(found[3]))
    rows = WaveMention.objects.for_brands([incident.brand_id]).filter(incident=incident)
    backwards = key is not None and key[0] == "p"
    if key is None:
        rows = rows.order_by("-reach", "-mention_id")
    elif backwards:
        rows = rows.filter(TupleGreaterThan((F("reach"), F("mention_id")), key[1:])).order_by(
            "reach", "mention_id"
        )
    else:
        rows = rows.filter(TupleLessThan((F("reach"), F("mention_id")), key[1:])).order_by(
            "-reach", "-mention_id"
        )
    fetched = list(
        rows.values(
            "reach",
            "mention_id",
            "mention__platform",
            "mention__url",
            "mention__author",
            "mention__author_followers",
            "mention__text",
            "mention__sentiment",
            "mention__published_at",
        )[: size + 1]
    )
    more = len(fetched) > size
    fetched = fetched[:size]
    if backwards:
        fetched.reverse()
    threshold = detection_policy_for(incident.brand).follower_threshold
    mentions = [
        {
            "id": row["mention_id"],
            "platform": row["mention__platform"],
            "url": row["mention__url"],
            "author": row["mention__author"],
            "author_followers": row["mention__author_followers"],
            "loud": row["mention__author_followers"] >= threshold,
            "text": row["mention__text"],
            "sentiment": row["mention__sentiment"],
            "reach": row["reach"],
            "published_at": row["mention__published_at"],
        }
        for row in fetched
    ]
    if not mentions:
        return MentionPage([], None, None)
    first, last = mentions[0], mentions[-1]
    after = f"n-{last['reach']}-{last['id']}"
    before = f"p-{first['reach']}-{first['id']}"
    if backwards:
        return MentionPage(mentions, next=after, previous=before if more else None)
    return MentionPage(mentions, next=after if more else None, previous=before if key is not None else None)


def response_figures(incident: Incident) -> dict:
    """How this incident's response went, in numbers (for its review)."""

    def seconds(later):
        return round((later - incident.detected_at).total_seconds(), 3) if later else None

    steps = list(incident.checklist.values("due_at", "completed_at"))
    return {
        "time_to_acknowledge_seconds": seconds(incident.acknowledged_at),
        "time_to_resolve_seconds": seconds(incident.resolved_at),
        "ack_sla_met": not sla.is_breached(
            due=incident.ack_due_at, done=incident.acknowledged_at, now=incident.resolved_at or timezone.now()
        ),
        "resolve_sla_met": not sla.is_breached(
            due=incident.resolve_due_at, done=incident.resolved_at, now=timezone.now()
        ),
        "escalations": incident.escalations.count(),
        "escalation_level": incident.escalation_level,
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


def available_actions(incident: Incident, principal: Principal) -> list[str]:
    """The actions this caller may take on the incident now (no queries: roles are cached)."""
    actions = [t.name for t in incident.get_available_user_state_transitions(principal)]
    if incident.state in (State.ACKNOWLEDGED, State.INVESTIGATED) and (
        principal.has_role(incident.brand_id, Role.MANAGER)
        or (principal.user_id is not None and incident.assignee_id == principal.user_id)
    ):
        actions.append("reassign")
    return actions


# --- The timeline and whom escalations reach, as the console shows them ----------------


def timeline_lines(incident: Incident, events: list[TimelineEvent]) -> list[messages.TimelineLine]:
    """
    `events` of the incident in words (`messages.timeline_line`). Each alert names the
    notifications it wrote; how they went is read from the outbox in one query, and the
    `notified` events of their attempts are folded into the alert's line.
    """
    linked = {
        sent.get("notification")
        for event in events
        if isinstance(event.data, dict)
        for sent in event.data.get("recipients") or []
        if isinstance(sent, dict)
    }
    linked.discard(None)
    outbox_rows = (
        {
            row["pk"]: row
            for row in Notification.objects.for_brands([incident.brand_id])
            .filter(pk__in=linked)
            .values("pk", "status", "attempts")
        }
        if linked
        else {}
    )
    return [
        messages.timeline_line(event, outbox_rows)
        for event in events
        if not (event.kind == EventKind.NOTIFIED and event.data.get("notification") in linked)
    ]


def reach_warnings_for_incident(incident: Incident) -> list[dict]:
    """
    What the incident page says loudly about escalation: each level that reached no one
    (from its `escalated` event), and while nobody has claimed it, each pending level
    that would reach no one if it fired now. `{"text", "loud"}` each.
    """
    fired = (
        incident.events.filter(kind=EventKind.ESCALATED, data__has_key="nobody_reached")
        .order_by("at", "id")
        .values_list("data", flat=True)
    )
    warnings = [
        {"text": messages.nobody_reached_text(data["nobody_reached"], level=data.get("level")), "loud": True}
        for data in fired
    ]
    if incident.state == State.DETECTED and incident.next_escalation_at is not None:
        reacher, seen = reach.Reacher(), set()
        reacher.read_schedules(chains.schedule_ids(incident.escalation_chain))
        for step in chains.steps(incident.escalation_chain)[incident.escalation_level :]:
            if (step.roles, step.users, step.schedules) in seen:  # a repeat of the chain: said once
                continue
            seen.add((step.roles, step.users, step.schedules))
            why = reacher.level(incident.brand_id, step.roles, step.users, step.schedules).nobody_reached
            if why is not None:
                text = messages.nobody_reached_text(why, level=step.level, ahead=True)
                warnings.append({"text": text, "loud": True})
    return warnings


def reach_warnings_for_brand(brand_id: int) -> list[dict]:
    """
    What a brand's settings page says ahead of time: each level of its chain that would
    reach no one today (loud), the people a level names who cannot be reached (quiet),
    and the resolve-overdue alert when no manager can be reached. `{"text", "loud"}` each.
    """
    warnings = []
    for level, reached in reach.chain_reach(brand_id, chain_for(brand_id)):
        if reached.nobody_reached is not None:
            text = messages.nobody_reached_text(reached.nobody_reached, level=level, ahead=True)
            warnings.append({"text": text, "loud": True})
        elif reached.unreachable:
            text = messages.unreachable_text(reached.unreachable, level=level)
            warnings.append({"text": text, "loud": False})
    managers = reach.Reacher().level(brand_id, reach.MANAGERS, fallback=False)
    if managers.nobody_reached is not None:
        text = messages.nobody_reached_text(managers.nobody_reached, level=None, ahead=True)
        warnings.append({"text": text, "loud": True})
    return warnings
