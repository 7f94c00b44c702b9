"""Reads of incidents, always scoped to what the caller may see."""

from django.db.models import Case, IntegerField, QuerySet, Value, When

from crisis.tenancy import Principal

from .models import SEVERITY_RANK, Incident, SlaPolicy, TimelineEvent
from .sla import DEFAULT_TARGETS, SlaTarget


def incidents_visible_to(principal: Principal) -> QuerySet[Incident]:
    """Members see their brands' incidents; an integration key sees only what it filed."""
    incidents = Incident.objects.visible_to(principal)
    if principal.key is not None:
        incidents = incidents.filter(reported_by_key=principal.key)
    return incidents


def incidents_for_display(principal: Principal) -> QuerySet[Incident]:
    """Visible incidents with everything the output serializer reads, in a fixed number of queries."""
    return incidents_visible_to(principal).select_related(
        "brand", "assignee", "reported_by_user", "reported_by_key"
    ).annotate(
        severity_rank=Case(
            *(When(severity=sev, then=Value(rank)) for sev, rank in SEVERITY_RANK.items()),
            output_field=IntegerField(),
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
