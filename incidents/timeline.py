"""
The one writer of timeline events.

A package above the desk may follow incidents as they move (the group chats'
messages of integrations/chat/): `settings.TIMELINE_LISTENERS` names functions, each
called with the new events inside the transaction that wrote them, as Django names
its e-mail backend; incidents/ never imports them. The outbox's own `notified` events
are not passed on: a delivery must not cause another.
"""

import functools
from datetime import datetime

from django.conf import settings
from django.core.signals import setting_changed
from django.utils import timezone
from django.utils.module_loading import import_string

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
    event = incident.events.create(
        at=at or timezone.now(),
        kind=kind,
        actor=principal.user if principal is not None else None,
        actor_label=principal.label if principal is not None else "system",
        from_state=from_state,
        to_state=to_state,
        data=data or {},
    )
    _tell_listeners([event])
    return event


def timeline_system_events(events: list[tuple[Incident, str, dict]], *, at) -> None:
    """Append (incident, kind, data) events by the desk itself with one INSERT (the clock)."""
    # Writes name their incident, so the fail-closed manager takes them as they are.
    written = TimelineEvent.objects.bulk_create(
        [
            TimelineEvent(incident=incident, at=at, kind=kind, actor=None, actor_label="system", data=data)
            for incident, kind, data in events
        ]
    )
    _tell_listeners(written)


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


@functools.cache
def _listeners() -> list:
    return [import_string(path) for path in getattr(settings, "TIMELINE_LISTENERS", ())]


def _tell_listeners(events: list[TimelineEvent]) -> None:
    for listener in _listeners():
        listener(events)


def _settings_changed(*, setting, **kwargs):
    if setting == "TIMELINE_LISTENERS":
        _listeners.cache_clear()


setting_changed.connect(_settings_changed)
