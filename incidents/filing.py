"""
Filing an incident: a new one with its checklist and timers, or a duplicate counted on the open one.

The one writer of new incidents, called by the API, wave detection, the integrations and
the demo data alike. Deduplication is by `dedup_key` among the brand's open incidents,
held by a unique constraint: two filers racing with one key end with one incident.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connections, router, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _

from api.errors import Forbidden
from crisis.models import Brand, Role
from crisis.tenancy import Principal
from playbooks import services as playbooks
from playbooks.models import ChecklistStep

from . import clock, sla
from .brand_setup import brand_setup
from .models import OPEN_STATES, EventKind, Incident, MovedDedupKey
from .timeline import timeline_record


@dataclass(frozen=True)
class Filing:
    incident: Incident
    created: bool  # False: the report was a duplicate of an open incident
    # The checklist a new incident was filed with (saved, in order); None for a duplicate.
    checklist: list[ChecklistStep] | None = None
    # False: an integration key hit the open incident of another filer with its dedup_key.
    # A key reads only what it filed, so it learns that its report was counted, no more
    # (API.md: `{"id", "state", "duplicate_count"}`); otherwise anyone could read any open
    # incident of the brand by guessing its key.
    readable: bool = True


def incident_file(
    *,
    principal: Principal,
    brand: Brand,
    title: str,
    detected_at: datetime | None = None,
    description: str = "",
    category: str = "other",
    severity: str = "medium",
    channel: str = "",
    source_url: str = "",
    reach: int = 0,
    dedup_key: str = "",
    source_details: dict | None = None,
    now: datetime | None = None,
) -> Filing:
    """
    File an incident, or count a duplicate when an open one has the same `dedup_key`.

    `source_details`: the sending tool's own fields, kept on a new incident (integrations).
    """
    if principal.key is None and not principal.has_role(brand.pk, Role.RESPONDER):
        raise Forbidden(_("Viewers cannot file incidents."))
    now = now or timezone.now()
    detected_at = detected_at or now
    fields = dict(
        principal=principal,
        brand=brand,
        title=title,
        detected_at=detected_at,
        description=description,
        category=category,
        severity=severity,
        channel=channel,
        source_url=source_url,
        reach=reach,
        dedup_key=dedup_key,
        source_details=source_details or {},
        now=now,
    )
    try:
        with transaction.atomic():
            return _count_duplicate_or_open(**fields)
    except IntegrityError:
        if not dedup_key:
            raise
    # Another filer opened an incident with this dedup key between our count (which
    # found none) and our INSERT, which the unique constraint then refused. A second
    # attempt counts a duplicate of theirs (or raises again if the error was another).
    with transaction.atomic():
        return _count_duplicate_or_open(**fields)


def _count_duplicate_or_open(
    *,
    principal: Principal,
    brand: Brand,
    dedup_key: str,
    source_url: str,
    reach: int,
    now: datetime,
    source_details: dict,
    **fields,
) -> Filing:
    """
    Call in `incident_file`'s atomic block, which the INSERT's unique-constraint error
    rolls back whole (a transaction, or a savepoint inside a caller's transaction) before
    the retry; no savepoint of its own around the INSERT.
    """
    if dedup_key:
        duplicate = _count_duplicate(brand, dedup_key, principal, source_url, reach)
        if duplicate is not None:
            return Filing(duplicate, created=False, readable=_reads_whole(principal, duplicate))
    return _open_incident(
        principal=principal,
        brand=brand,
        dedup_key=dedup_key,
        source_url=source_url,
        reach=reach,
        now=now,
        source_details=source_details,
        **fields,
    )


def _count_duplicate(
    brand: Brand, dedup_key: str, principal: Principal, source_url: str, reach: int
) -> Incident | None:
    """
    Count a duplicate report on the brand's open incident with `dedup_key`, if any.

    One statement finds, locks, counts and reads the incident back, so a storm of
    duplicate reports costs no separate locking read; the lock is held to commit, so
    the count read back is ours. A concurrent resolve either commits first (the
    UPDATE then matches nothing and a new incident is filed, as after any resolve)
    or waits for us.
    """
    incident = _counted_open_incident(brand.pk, dedup_key)
    if incident is None:
        return None
    # The rows the response shows besides the incident: the brand is at hand, and the
    # reporter most often is the caller (a monitoring tool reporting the crisis again).
    # Anyone else (the assignee, another reporter) is read now, under the row lock: read
    # after commit, a key or user deleted in between would be gone.
    incident.brand = brand
    if principal.key is not None and incident.reported_by_key_id == principal.key.pk:
        incident.reported_by_key = principal.key
    if principal.user is not None and incident.reported_by_user_id == principal.user_id:
        incident.reported_by_user = principal.user
    prefetch_related_objects(
        [incident],
        *(
            name
            for name in (
                "assignee",
                "reported_by_user",
                "reported_by_key",
                "commander",
                "comms_lead",
                "scribe",
            )
            if getattr(incident, f"{name}_id") is not None
            and not Incident._meta.get_field(name).is_cached(incident)
        ),
    )
    timeline_record(
        incident=incident,
        kind=EventKind.DUPLICATE,
        principal=principal,
        data={"duplicate_count": incident.duplicate_count, "source_url": source_url, "reach": reach},
    )
    return incident


def _reads_whole(principal: Principal, incident: Incident) -> bool:
    """Whether the caller may read the incident its duplicate report was counted on."""
    return principal.key is None or incident.reported_by_key_id == principal.key.pk


def _counted_open_incident(brand_id: int, dedup_key: str) -> Incident | None:
    """
    `duplicate_count + 1` on the brand's open incident with `dedup_key`, and that
    incident as it is now (None if there is none): the one whose own key it is, else
    the one a merge moved the key to (`MovedDedupKey`, `command.incident_merge`), in
    the order `selectors.open_incident_with_key` reads them.

    Written as SQL because the ORM cannot return rows from an UPDATE: an ORM update
    and a re-read take two round trips and several times the CPU per duplicate report,
    which a storm of duplicates pays in full (docs/benchmarks.md, filing). The moved
    key is looked up inside the same statement: as a query of its own it cost every
    new incident filed with a key a round trip and the ORM's query building, most of
    what filing had slowed down by (docs/benchmarks.md, filing, session 11).
    `UPDATE … RETURNING` runs on PostgreSQL and on SQLite (3.35+); `raw()` turns the row
    into an Incident through the fields' own converters. The conditions are those of the
    unique constraints `incident_one_open_per_dedup_key` and `moved_dedup_key_unique`,
    whose indexes find the rows.
    """
    database = router.db_for_write(Incident)
    quote = connections[database].ops.quote_name
    meta, moved = Incident._meta, MovedDedupKey._meta
    table, column = (
        quote(meta.db_table),
        {
            name: quote(meta.get_field(name).column)
            for name in ("duplicate_count", "brand", "dedup_key", "state", "id")
        },
    )
    moved_table, moved_column = (
        quote(moved.db_table),
        {name: quote(moved.get_field(name).column) for name in ("brand", "dedup_key", "incident")},
    )
    returning = ", ".join(quote(field.column) for field in meta.concrete_fields)
    states = ", ".join(["%s"] * len(OPEN_STATES))
    # Identifiers from the models' metadata; every value is a parameter.
    sql = (
        f"UPDATE {table}"  # noqa: S608  # nosec B608
        f" SET {column['duplicate_count']} = {column['duplicate_count']} + 1"
        f" WHERE {column['brand']} = %s AND {column['state']} IN ({states})"
        f" AND ({column['dedup_key']} = %s"
        f" OR ({column['id']} = (SELECT {moved_column['incident']} FROM {moved_table}"
        f" WHERE {moved_column['brand']} = %s AND {moved_column['dedup_key']} = %s)"
        f" AND NOT EXISTS (SELECT 1 FROM {table} AS own WHERE own.{column['brand']} = %s"
        f" AND own.{column['dedup_key']} = %s AND own.{column['state']} IN ({states}))))"
        f" RETURNING {returning}"
    )
    params = [brand_id, *OPEN_STATES, dedup_key, brand_id, dedup_key, brand_id, dedup_key, *OPEN_STATES]
    counted = Incident.all_brands.db_manager(database).raw(sql, params)
    return next(iter(counted), None)


def _open_incident(
    *,
    principal: Principal,
    brand: Brand,
    title: str,
    detected_at: datetime,
    description: str,
    category: str,
    severity: str,
    channel: str,
    source_url: str,
    reach: int,
    dedup_key: str,
    source_details: dict,
    now: datetime,
) -> Filing:
    setup = brand_setup(brand)
    target = setup.sla[severity]
    ack_due_at = sla.due_at(detected_at, target.ack_seconds)
    incident = Incident(
        brand=brand,
        title=title,
        description=description,
        category=category,
        severity=severity,
        channel=channel,
        source_url=source_url,
        reach=reach,
        dedup_key=dedup_key,
        detected_at=detected_at,
        created_at=now,
        ack_due_at=ack_due_at,
        resolve_due_at=sla.due_at(detected_at, target.resolve_seconds),
        reported_by_user=principal.user,
        reported_by_key=principal.key,
        source_details=source_details,
        **clock.initial_timers(detected_at=detected_at, ack_due_at=ack_due_at, chain=setup.chain),
    )
    incident.save(force_insert=True)
    playbook, steps = setup.playbook(brand, category, severity)
    checklist = []
    if playbook is not None:
        checklist = ChecklistStep.objects.bulk_create(
            playbooks.checklist_from(playbook, steps=steps, incident=incident, detected_at=detected_at)
        )
    timeline_record(
        incident=incident,
        kind=EventKind.CREATED,
        principal=principal,
        at=now,
        to_state=incident.state,
        data={
            "severity": severity,
            "category": category,
            "channel": channel,
            "playbook": playbook.name if playbook else None,
        },
    )
    clock.schedule_fast_path(incident, now=now)
    return Filing(incident, created=True, checklist=checklist)
