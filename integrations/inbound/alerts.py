"""
Incidents from alerting tools: what PagerDuty's events and Alertmanager's and Grafana's
alert groups have in common, and the alert groups themselves.

An alert that fires files an incident through `incidents.filing.incident_file` under the
tool's dedup key, or counts a duplicate on the open one; what the tool later says about
it (acknowledged, resolved, firing again) goes through `incidents.services`
(`incident_source_*`). An alert's events follow its key to the incident that carries it,
its own or merged into it (`selectors.open_incident_with_key`), and only the one who filed
the key speaks for it there.

Alertmanager (webhook_config, payload version 4) and Grafana alerting (webhook contact
point) post the same shape: a group (`receiver`, `status`, `groupLabels`,
`commonLabels`, `commonAnnotations`, `externalURL`, `groupKey`, `truncatedAlerts`) with
`alerts`, each `status` (firing or resolved), `labels`, `annotations`, `startsAt`,
`endsAt` (`0001-01-01T00:00:00Z` while firing), `generatorURL` and `fingerprint`
(Grafana adds `silenceURL`, `dashboardURL`, `panelURL`, `values`, `imageURL`). Both
resend a whole group at every `group_interval` and `repeat_interval`, so a resend must
change nothing: each alert is one incident, deduplicated by its fingerprint, and a
firing counts again only when its `startsAt` is new.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crisis.models import Brand, Category, Channel, Severity
from crisis.tenancy import Principal
from incidents import filing, selectors, services
from incidents.models import FREE_TEXT_MAX, Incident, SourceState

from ..channels import channel_for
from . import reading

TITLE_MAX = Incident._meta.get_field("title").max_length
DEDUP_KEY_MAX = Incident._meta.get_field("dedup_key").max_length
ALERTS_MAX = 1000  # per group: Alertmanager's own `max_alerts` is unlimited by default
# Looks of a key that merges keep moving away while an event waits for its incident (`say`).
MERGE_RETRIES = 5

# Severities as alerting tools spell them (PagerDuty's four, and ours) → ours.
SEVERITIES = {
    "critical": Severity.CRITICAL,
    "error": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "info": Severity.LOW,
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
}


def severity_of(value, default: str = Severity.MEDIUM) -> str:
    return SEVERITIES.get(value.strip().lower(), default) if isinstance(value, str) else default


def category_of(value) -> str:
    return value if isinstance(value, str) and value in Category.values else Category.OTHER


def channel_of(value) -> str:
    """Blank when the tool names no channel; otherwise ours, through the one table (unknown: other)."""
    if not isinstance(value, str) or not value.strip():
        return ""
    value = value.strip()
    if value.lower() in Channel.values:
        return value.lower()
    return channel_for(domain=value, source_type=value)


def title_and_description(summary: str, description: str = "") -> tuple[str, str]:
    """A summary longer than our title goes on in the description, so it is kept whole."""
    title, rest = summary[:TITLE_MAX], summary[TITLE_MAX:]
    if rest and description:
        return title, f"{rest}\n\n{description}"
    return title, rest or description


def detected_at(value: datetime | None, now: datetime) -> datetime:
    """When the tool saw it; a clock running ahead of ours is taken as now, as losing an alert is worse."""
    return now if value is None else min(value, now)


def open_incident(brand: Brand, dedup_key: str) -> selectors.KeyHolder | None:
    """
    The brand's open incident that carries this dedup key (whoever filed it), its own or
    merged into it (`selectors.open_incident_with_key`), with the key's record there.
    """
    return selectors.open_incident_with_key(brand.pk, dedup_key)


def is_filer(holder: selectors.KeyHolder | Incident, principal: Principal) -> bool:
    """Whether `principal` filed the key (or incident): only the filer speaks for it, merged or not."""
    if principal.key is not None:
        return holder.reported_by_key_id == principal.key.pk
    return holder.reported_by_user_id is not None and holder.reported_by_user_id == principal.user_id


def say(
    said,
    *,
    principal: Principal,
    brand: Brand,
    dedup_key: str,
    holder: selectors.KeyHolder | None = None,
    **news,
) -> int | None:
    """
    Tell the open incident that carries `dedup_key` what its source said, through `said`
    (`services.incident_source_*`), if `principal` filed the key; that incident's id, or None.

    `holder`, when the caller has looked the key up already. A merge may move the key on
    between the look-up and the service's row lock: the service then answers None and the
    key is looked up again (a merge takes two row locks, so this ends in a step or two).
    """
    for _attempt in range(MERGE_RETRIES):
        holder = holder or open_incident(brand, dedup_key)
        if holder is None or not is_filer(holder, principal):
            return None
        if said(incident_id=holder.incident_id, principal=principal, dedup_key=dedup_key, **news) is not None:
            return holder.incident_id
        holder = None
    return None


def fire(
    *,
    principal: Principal,
    brand: Brand,
    dedup_key: str,
    fields: dict,
    details: dict,
    now,
    holder: selectors.KeyHolder | None = None,
) -> Incident:
    """
    A firing: a new incident, or a duplicate counted on the open one that carries the key
    (re-armed if its sources had resolved it). `holder`: the key's holder, when the caller
    has looked it up already under the key's lock.
    """
    filed = filing.incident_file(
        principal=principal, brand=brand, dedup_key=dedup_key, source_details=details, now=now, **fields
    )
    if not filed.created:
        say(
            services.incident_source_retriggered,
            principal=principal,
            brand=brand,
            dedup_key=dedup_key,
            holder=holder if holder is not None and holder.incident_id == filed.incident.pk else None,
            details=details,
        )
    return filed.incident


def serialize_on(brand: Brand, dedup_key: str) -> None:
    """
    Hold one alert's dedup key for the rest of the transaction (PostgreSQL), so that two
    copies of a group arriving together (an Alertmanager cluster's peers, a retry) cannot
    both find no incident, or the old `startsAt`, and both count. SQLite's writers take
    turns already (IMMEDIATE transactions).
    """
    if connection.vendor == "postgresql":
        digest = hashlib.sha256(f"{brand.pk}:{dedup_key}".encode()).digest()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)]
            )


# --- Alert groups (Alertmanager, Grafana) --------------------------------------------

# Fields of an alert the incident has columns for; the rest is `source_details`.
_GRAFANA_EXTRAS = ("silenceURL", "dashboardURL", "panelURL", "values", "valueString", "imageURL")


@dataclass(frozen=True)
class Alert:
    dedup_key: str
    firing: bool
    starts_at: datetime
    fields: dict
    details: dict


def alerts_of(group, *, prefix: str) -> list[Alert]:
    """Every alert of a group, read and checked before anything is stored."""
    group = reading.obj(group, "body", required=True)
    raw_alerts = reading.array(group.get("alerts"), "alerts", required=True)
    if len(raw_alerts) > ALERTS_MAX:
        raise reading.problem("alerts", _("At most %(max)d alerts per request.") % {"max": ALERTS_MAX})
    group_status = reading.text(group.get("status"), "status")
    common = {
        name: reading.clean_json(group[name])
        for name in ("receiver", "groupKey", "externalURL", "groupLabels", "commonLabels", "truncatedAlerts")
        if name in group
    }
    return [_alert(raw, f"alerts[{i}]", prefix, group_status, common) for i, raw in enumerate(raw_alerts)]


def _alert(raw, at: str, prefix: str, group_status: str, common: dict) -> Alert:
    raw = reading.obj(raw, at, required=True)
    labels = _strings(reading.obj(raw.get("labels"), f"{at}.labels"), f"{at}.labels")
    annotations = _strings(reading.obj(raw.get("annotations"), f"{at}.annotations"), f"{at}.annotations")
    status = (reading.text(raw.get("status"), f"{at}.status") or group_status).strip().lower()
    if status not in ("firing", "resolved"):
        raise reading.problem(f"{at}.status", _("Expected firing or resolved."))
    fingerprint = reading.identifier(raw.get("fingerprint"), f"{at}.fingerprint", max_length=100)
    if not fingerprint:
        # Alertmanager before 0.19 sent none; its fingerprint is a hash of the labels.
        fingerprint = hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]
    starts_at = reading.instant(raw.get("startsAt"), f"{at}.startsAt", required=True)
    summary = annotations.get("summary", "").strip() or labels.get("alertname", "").strip()
    if not summary:
        raise reading.problem(f"{at}.annotations.summary", _("No summary annotation and no alertname label."))
    title, description = title_and_description(summary, annotations.get("description", "").strip())
    if len(description) > FREE_TEXT_MAX:
        raise reading.problem(
            f"{at}.annotations.description",
            _("Ensure this field has no more than %(max)d characters.") % {"max": FREE_TEXT_MAX},
        )
    details = {
        "status": status,
        "fingerprint": fingerprint,
        "startsAt": starts_at.isoformat(),
        "endsAt": reading.text(raw.get("endsAt"), f"{at}.endsAt")[:64],
        "generatorURL": reading.text(raw.get("generatorURL"), f"{at}.generatorURL")[:2000],
        "labels": labels,
        "annotations": annotations,
        **{name: reading.clean_json(raw[name]) for name in _GRAFANA_EXTRAS if name in raw},
        **common,
    }
    return Alert(
        dedup_key=f"{prefix}:{fingerprint}",
        firing=status == "firing",
        starts_at=starts_at,
        fields={
            "title": title,
            "description": description,
            "severity": severity_of(labels.get("severity")),
            "category": category_of(labels.get("category")),
            "channel": channel_of(labels.get("channel")),
            "source_url": reading.link(raw.get("generatorURL")),
        },
        details=details,
    )


def _strings(mapping: dict, at: str) -> dict[str, str]:
    """Labels and annotations: names to strings (a number or flag is written as text)."""
    out = {}
    for name, value in mapping.items():
        if isinstance(value, dict | list):
            raise reading.problem(f"{at}.{name}"[:200], _("Expected a string."))
        out[reading.text(str(name), at)[:200]] = (
            "" if value is None else reading.text(str(value), f"{at}.{name}"[:200])
        )
    return out


def receive_group(*, principal: Principal, brand: Brand, group, prefix: str) -> dict:
    """
    Every alert of a group, in one transaction: firing ones filed or counted (a resend
    with the same `startsAt` changes nothing), resolved ones recorded on the incident
    that carries their key (merged into another or not). The answer names every incident
    the group touched.
    """
    alerts = alerts_of(group, prefix=prefix)
    now = timezone.now()
    touched: list[int] = []
    with transaction.atomic():
        # In key order: two groups sharing alerts take their locks in one order.
        for alert in sorted(alerts, key=lambda a: a.dedup_key):
            serialize_on(brand, alert.dedup_key)
            existing = open_incident(brand, alert.dedup_key)
            if alert.firing:
                if existing is not None and _same_firing(existing, alert):
                    touched.append(existing.incident_id)
                    continue
                fields = {**alert.fields, "detected_at": detected_at(alert.starts_at, now)}
                incident = fire(
                    principal=principal,
                    brand=brand,
                    dedup_key=alert.dedup_key,
                    fields=fields,
                    details=alert.details,
                    now=now,
                    holder=existing,
                )
                touched.append(incident.pk)
            elif existing is not None:
                told = say(
                    services.incident_source_resolved,
                    principal=principal,
                    brand=brand,
                    dedup_key=alert.dedup_key,
                    holder=existing,
                    data={"endsAt": alert.details["endsAt"], "fingerprint": alert.details["fingerprint"]},
                )
                if told is not None:
                    touched.append(told)
    return {"incidents": sorted(set(touched))}


def _same_firing(holder: selectors.KeyHolder, alert: Alert) -> bool:
    """Whether the alert's key already knows this firing (same `startsAt`), so a resend is nothing."""
    if holder.source_state == SourceState.RESOLVED:
        return False
    details = holder.source_details
    known = details.get("startsAt") if isinstance(details, dict) else None
    try:
        return known is not None and datetime.fromisoformat(known) == alert.starts_at
    except (TypeError, ValueError):
        return False
