"""The one writer of timeline events."""

from datetime import datetime

from django.utils import timezone

from crisis.tenancy import Principal

from .models import Incident, TimelineEvent


def timeline_record(
    *,
    incident: Incident,
    kind: str,
    principal: Principal | None = None,
    from_state: str = "",
    to_state: str = "",
    data: dict | None = None,
    at=None,
) -> TimelineEvent:
    """Append an event; a missing principal means the desk itself (sweepers, tasks)."""
    return incident.events.create(
        at=at or timezone.now(),
        kind=kind,
        actor=principal.user if principal is not None else None,
        actor_label=principal.label if principal is not None else "system",
        from_state=from_state,
        to_state=to_state,
        data=data or {},
    )


def timeline_system_events(events: list[tuple[Incident, str, dict]], *, at) -> None:
    """Append (incident, kind, data) events by the desk itself with one INSERT (the clock)."""
    # Writes name their incident, so the fail-closed manager takes them as they are.
    TimelineEvent.objects.bulk_create(
        [
            TimelineEvent(incident=incident, at=at, kind=kind, actor=None, actor_label="system", data=data)
            for incident, kind, data in events
        ]
    )


def timeline_notified(events: list[tuple[int, str, dict, datetime]]) -> None:
    """Append (incident id, kind, data, when) events by the desk with one INSERT (the outbox's deliveries)."""
    TimelineEvent.objects.bulk_create(
        [
            TimelineEvent(
                incident_id=incident_id, at=at, kind=kind, actor=None, actor_label="system", data=data
            )
            for incident_id, kind, data, at in events
        ]
    )
