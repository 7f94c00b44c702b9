"""Reads of incidents, always scoped to what the caller may see."""

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


def incidents_for_display(principal: Principal) -> QuerySet[Incident]:
    """Visible incidents with everything the output serializer reads, in a fixed number of queries."""
    steps = Prefetch("checklist", queryset=ChecklistStep.objects.select_related("completed_by")
                     .order_by("position", "id"))
    return incidents_visible_to(principal).select_related(
        "brand", "assignee", "reported_by_user", "reported_by_key"
    ).prefetch_related(
        steps, Prefetch("follow_ups", queryset=FollowUp.objects.select_related("owner"))
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


def reply_render(*, template: ResponseTemplate, incident: Incident,
                 values: dict[str, str]) -> dict:
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
    return {"text": placeholders.fill(template.body, filled), "placeholders": names,
            "filled_from_incident": sources["incident"], "filled_from_values": sources["values"]}
