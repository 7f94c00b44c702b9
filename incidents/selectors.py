"""Reads of incidents, always scoped to what the caller may see."""

from datetime import timedelta

from django.db.models import Case, IntegerField, Prefetch, QuerySet, Value, When
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError

from crisis.tenancy import Principal
from playbooks import placeholders
from playbooks.models import ChecklistStep, ResponseTemplate

from .models import SEVERITY_RANK, FollowUp, Incident, SlaPolicy, TimelineEvent
from .sla import DEFAULT_TARGETS, SlaTarget


def incidents_visible_to(principal: Principal) -> QuerySet[Incident]:
    """Members see their brands' incidents; an integration key sees only what it filed."""
    incidents = Incident.objects.visible_to(principal)
    if principal.key is not None:
        incidents = incidents.filter(reported_by_key=principal.key)
    return incidents


def checklists_for_display() -> QuerySet[ChecklistStep]:
    """Checklist steps as the output serializer shows them, in order."""
    return ChecklistStep.objects.select_related("completed_by").order_by("position", "id")


def display_prefetches() -> list[Prefetch]:
    """The related rows the output serializer reads besides the joined ones."""
    return [
        Prefetch("checklist", queryset=checklists_for_display()),
        Prefetch("follow_ups", queryset=FollowUp.objects.select_related("owner")),
    ]


def incidents_for_display(principal: Principal) -> QuerySet[Incident]:
    """Visible incidents with everything the output serializer reads, in a fixed number of queries."""
    return (
        incidents_visible_to(principal)
        .select_related("brand", "assignee", "reported_by_user", "reported_by_key")
        .prefetch_related(*display_prefetches())
        .annotate(
            severity_rank=Case(
                *(When(severity=sev, then=Value(rank)) for sev, rank in SEVERITY_RANK.items()),
                output_field=IntegerField(),
            )
        )
    )


def timeline_of(incident: Incident) -> QuerySet[TimelineEvent]:
    return TimelineEvent.all_brands.filter(incident=incident).order_by("at", "id")


def sla_targets_for(brand_id: int) -> dict[str, SlaTarget]:
    """The brand's targets per severity: its own rows over the defaults."""
    targets = dict(DEFAULT_TARGETS)
    for policy in SlaPolicy.objects.filter(brand_id=brand_id):
        targets[policy.severity] = SlaTarget(policy.ack_seconds, policy.resolve_seconds)
    return targets


def reply_render(*, template: ResponseTemplate, incident: Incident, values: dict[str, str]) -> dict:
    """Fill a template from the incident and the caller's values; 400 naming any gap or stranger."""
    names = placeholders.placeholders(template.body)
    assignee = incident.assignee
    from_incident = {
        "brand": incident.brand.name,
        "title": incident.title,
        "channel": incident.get_channel_display() if incident.channel else "",
        "responder": (assignee.get_full_name() or assignee.get_username()) if assignee else "",
        "incident_id": str(incident.pk),
        "detected_at": f"{incident.detected_at:%Y-%m-%d %H:%M} UTC",
    }
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
        raise ValidationError({"values": errors})
    return {
        "text": placeholders.fill(template.body, filled),
        "placeholders": names,
        "filled_from_incident": sources["incident"],
        "filled_from_values": sources["values"],
    }


WAVE_BUCKET_SECONDS = 300


def wave_figures(incident: Incident, *, now) -> dict:
    """
    The wave behind an incident, and whether the response helped: the brand's
    share of negative mentions before the claim, between claim and resolve,
    and after the resolve (for as long as the claim-to-resolve stretch, at most a day).
    """
    from django.db.models import Count, Q, Sum

    from crisis.models import Mention

    attached = Mention.objects.filter(wave_link__incident=incident)
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
    brand_mentions = Mention.objects.filter(brand_id=incident.brand_id)

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
    series: dict[int, dict] = {}
    for published_at, sentiment in brand_mentions.filter(
        published_at__gte=start, published_at__lt=end
    ).values_list("published_at", "sentiment")[:200_000]:
        bucket = int((published_at - start).total_seconds() // WAVE_BUCKET_SECONDS)
        row = series.setdefault(bucket, {"mentions": 0, "negative": 0})
        row["mentions"] += 1
        row["negative"] += sentiment == "negative"
    return {
        "mentions": stats["n"],
        "total_reach": stats["reach"] or 0,
        "negative_share": round(stats["negative"] / stats["n"], 4) if stats["n"] else None,
        "before_claim": share(start, claimed or now),
        "after_claim": share(claimed, resolved or now) if claimed else None,
        "after_resolve": share(resolved, min(after_end, now)) if resolved else None,
        "series": [
            {"at": start + timedelta(seconds=b * WAVE_BUCKET_SECONDS), **row}
            for b, row in sorted(series.items())
        ],
    }
