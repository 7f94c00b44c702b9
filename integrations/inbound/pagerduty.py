"""
A PagerDuty Events API v2 endpoint (API.md, "Integrations"), so that anything that can
page PagerDuty (Alertmanager's pagerduty_config, Grafana's PagerDuty contact point,
Datadog, scripts with PagerDuty's client libraries) can page the desk instead.

PagerDuty's rules (developer.pagerduty.com, "Send an Alert Event"): `routing_key` (32
characters) and `event_action` (`trigger`, `acknowledge`, `resolve`) always; `dedup_key`
(≤ 255) correlates the events of one alert and is generated for a trigger without one;
a trigger needs `payload.summary` (≤ 1024), `payload.source` and `payload.severity`
(`critical`, `error`, `warning`, `info`), and may carry `payload.timestamp`,
`component`, `group`, `class`, `custom_details`, `images`, `links`, `client`,
`client_url`; bodies up to 512 KB; 202 `{"status": "success", "message": "Event
processed", "dedup_key"}`, or 400 `{"status": "invalid event", "message", "errors"}`.
Events after an alert is resolved: a trigger opens a new one, acknowledge and resolve are
dropped; events sent with another routing key than the trigger's are dropped too.

The routing key is one of the brand's integration keys (`BrandKey.routing_key`).
"""

import uuid

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.text import free_text, is_unsafe
from crisis.models import Brand, BrandKey
from crisis.tenancy import Principal
from incidents import services

from . import alerts, reading

BODY_LIMIT = 512 * 1024  # PagerDuty's own limit
SUMMARY_MAX = 1024
ACTIONS = ("trigger", "acknowledge", "resolve")
PD_SEVERITIES = ("critical", "error", "warning", "info")
# Kept on the incident as its `source_details`: every field of the event but the credential
# and the ones the incident has columns for.
_NOT_DETAILS = {"routing_key", "event_action", "dedup_key", "payload"}
_PAYLOAD_COLUMNS = {"summary", "severity", "timestamp"}


class InvalidEvent(Exception):
    """What PagerDuty answers 400 `invalid event` for; `errors` are its sentences."""

    def __init__(self, *errors: str):
        super().__init__(*errors)
        self.errors = list(errors)


def _str(value, name: str, *, required: bool, max_length: int | None = None) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidEvent(_("'%(name)s' is missing or blank") % {"name": name})
        return ""
    if not isinstance(value, str):
        raise InvalidEvent(_("'%(name)s' must be a string") % {"name": name})
    if name == "dedup_key" and is_unsafe(value):
        raise InvalidEvent(_("'dedup_key' holds a null character or a lone surrogate"))
    if max_length is not None and len(value) > max_length:
        raise InvalidEvent(
            _("'%(name)s' is longer than %(max)d characters") % {"name": name, "max": max_length}
        )
    return value


def _key_of(event: dict) -> BrandKey:
    routing_key = event.get("routing_key")
    if not isinstance(routing_key, str) or not routing_key:
        raise InvalidEvent(_("'routing_key' is missing or blank"))
    if len(routing_key) != 32:
        raise InvalidEvent(_("Length of 'routing_key' is incorrect (should be 32 characters)"))
    key = BrandKey.from_routing_key(routing_key)
    if key is None:
        raise InvalidEvent(_("'routing_key' is not a routing key of this desk (revoked, or never issued)"))
    return key


def receive(*, principal: Principal, brand: Brand, event) -> str:
    """Carry out one event for `principal` (the routing key's, or a person's test); its dedup key."""
    if not isinstance(event, dict):
        raise InvalidEvent(_("The event must be a JSON object"))
    action = _str(event.get("event_action"), "event_action", required=True)
    if action not in ACTIONS:
        raise InvalidEvent(_("'event_action' must be one of trigger, acknowledge, resolve"))
    dedup_key = _str(event.get("dedup_key"), "dedup_key", required=action != "trigger", max_length=255)
    if action == "trigger":
        return _trigger(principal, brand, event, dedup_key)
    # To the open incident that carries the key, its own or merged into it, when this key
    # filed it. An event that matches nothing is accepted and does nothing.
    alerts.say(
        services.incident_source_acknowledged
        if action == "acknowledge"
        else services.incident_source_resolved,
        principal=principal,
        brand=brand,
        dedup_key=dedup_key,
        data={"dedup_key": dedup_key},
    )
    return dedup_key


def _trigger(principal: Principal, brand: Brand, event: dict, dedup_key: str) -> str:
    payload = event.get("payload")
    if not isinstance(payload, dict):
        raise InvalidEvent(_("'payload' is missing or not an object"))
    summary = free_text(
        _str(payload.get("summary"), "payload.summary", required=True, max_length=SUMMARY_MAX)
    )
    _str(payload.get("source"), "payload.source", required=True)
    severity = _str(payload.get("severity"), "payload.severity", required=True)
    if severity not in PD_SEVERITIES:
        raise InvalidEvent(_("'payload.severity' must be one of critical, error, warning, info"))
    try:
        timestamp = reading.instant(payload.get("timestamp"), "payload.timestamp")
    except exceptions.ValidationError:
        raise InvalidEvent(_("'payload.timestamp' is not an ISO 8601 date and time after 2000")) from None
    links = event.get("links")
    if links is not None and not isinstance(links, list):
        raise InvalidEvent(_("'links' must be a list"))
    custom = payload.get("custom_details")
    custom = custom if isinstance(custom, dict) else {}
    title, description = alerts.title_and_description(summary.strip())
    now = timezone.now()
    details = reading.clean_json(
        {
            **{k: v for k, v in event.items() if k not in _NOT_DETAILS},
            **{k: v for k, v in payload.items() if k not in _PAYLOAD_COLUMNS},
        }
    )
    # The event's own key is the answer's, also when the incident carries it merged in.
    dedup_key = dedup_key or f"pd:{uuid.uuid4().hex}"
    alerts.fire(
        principal=principal,
        brand=brand,
        dedup_key=dedup_key,
        fields={
            "title": title,
            "description": description,
            "severity": alerts.severity_of(severity),
            "category": alerts.category_of(custom.get("category")),
            "channel": alerts.channel_of(custom.get("channel")),
            "source_url": next(
                (reading.link(item.get("href")) for item in links or () if isinstance(item, dict)), ""
            ),
            "detected_at": alerts.detected_at(timestamp, now),
        },
        details=details,
        now=now,
    )
    return dedup_key


PD_ANSWER = inline_serializer(
    "PagerDutyAnswer",
    {
        "status": serializers.CharField(),
        "message": serializers.CharField(),
        "dedup_key": serializers.CharField(),
    },
)
PD_ERROR = inline_serializer(
    "PagerDutyError",
    {
        "status": serializers.CharField(),
        "message": serializers.CharField(),
        "errors": serializers.ListField(child=serializers.CharField()),
    },
)


class PagerDutyView(APIView):
    """`POST /integrations/pagerduty/v2/enqueue[/]`: an Events API v2 event, answered as PagerDuty does."""

    authentication_classes = []  # the routing key in the body is the credential
    permission_classes = [AllowAny]
    parser_classes = []
    query_parameters = None

    @extend_schema(
        tags=["integrations"],
        request={"application/json": {"type": "object"}},
        responses={202: PD_ANSWER, 400: PD_ERROR, 413: PD_ERROR},
    )
    def post(self, request):
        try:
            event = reading.json_body(request, limit=BODY_LIMIT)
        except reading.TooLarge as error:
            return _invalid(str(error.detail), status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        except exceptions.ParseError as error:
            return _invalid(str(error.detail))
        try:
            if not isinstance(event, dict):
                raise InvalidEvent(_("The event must be a JSON object"))
            key = _key_of(event)
            with transaction.atomic():
                dedup_key = receive(principal=Principal.for_key(key), brand=key.brand, event=event)
        except InvalidEvent as error:
            return _invalid(*error.errors)
        return Response(
            {"status": "success", "message": "Event processed", "dedup_key": dedup_key},
            status=status.HTTP_202_ACCEPTED,
        )


def _invalid(*errors: str, status_code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response(
        {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)},
        status=status_code,
    )
