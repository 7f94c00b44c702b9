"""
Mention intake: store what monitoring tools report, and act on detection.

`crisis.detection` decides whether a wave is on; this module opens the wave's
incident (through `services.incident_file`, like any other filing) or attaches
the new mentions to the wave already open. At most one detection-opened wave
per brand is open at a time: it carries the dedup key `WAVE_KEY`, and the
database allows one open incident per key.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError

from api.errors import Forbidden
from crisis import detection
from crisis.models import Brand, Mention, Role, Sentiment
from crisis.tenancy import Principal

from . import services
from .models import OPEN_STATES, Incident, WaveMention

WAVE_KEY = "mention-wave"


@dataclass(frozen=True)
class Intake:
    accepted: int
    duplicates: int
    incidents: list[int]


def mentions_receive(*, principal: Principal, brand: Brand, items: list[dict], now: datetime) -> Intake:
    """Store new mentions (a retry of a stored one is a duplicate), then detect and attach."""
    if principal.key is None and not principal.has_role(brand.pk, Role.RESPONDER):
        raise Forbidden(_("Viewers cannot report mentions."))
    if not items:  # an empty batch: nothing to look up (an empty filter would match all)
        return Intake(0, 0, [])
    named = _named_incidents(brand, items)
    with transaction.atomic():
        fresh, duplicates = _store(brand, items, now)
        touched: set[int] = set()
        by_target: dict[int, list[Mention]] = {}
        loose = []
        for mention, item in fresh:
            target = named.get(item.get("incident")) or named.get(("key", item.get("dedup_key")))
            if target is not None:
                by_target.setdefault(target.pk, []).append(mention)
            else:
                loose.append(mention)
        for incident_id, mentions in by_target.items():
            _attach(incident_id, mentions, now)
            touched.add(incident_id)
        if loose:
            wave_id = _open_wave_id(brand)
            if wave_id is None:
                decision = detection.detect(brand=brand, fresh=loose, now=now)
                if decision is not None:
                    category = next((i["category"] for i in items if i.get("category")), "negative_wave")
                    wave_id = _file_wave(principal, brand, decision, loose, now, category).pk
            if wave_id is not None:
                negatives = [m for m in loose if m.sentiment == Sentiment.NEGATIVE]
                _attach(wave_id, negatives, now)
                touched.add(wave_id)
    return Intake(len(fresh), duplicates, sorted(touched))


def _named_incidents(brand: Brand, items: list[dict]) -> dict:
    """Open incidents that items name by id or dedup key; a named id that is not one is a 400."""
    ids = {item["incident"] for item in items if item.get("incident")}
    keys = {item["dedup_key"] for item in items if item.get("dedup_key")}
    found = {}
    if ids:
        rows = Incident.all_brands.filter(brand=brand, pk__in=ids, state__in=OPEN_STATES)
        found.update({i.pk: i for i in rows})
        missing = sorted(ids - set(found))
        if missing:
            raise ValidationError(
                {
                    "incident": [
                        _("Not an open incident of this brand: %s") % ", ".join(map(str, missing))[:300]
                    ]
                }
            )
    if keys:
        rows = Incident.all_brands.filter(brand=brand, dedup_key__in=keys, state__in=OPEN_STATES)
        found.update({("key", i.dedup_key): i for i in rows})
    return found


def _store(brand: Brand, items: list[dict], now: datetime):
    """Insert the mentions not stored yet; returns [(mention, item)] and the duplicate count."""
    candidates, seen = [], set()
    for item in items:
        key = (item["platform"], item["external_id"])
        if key in seen:
            continue  # the same post twice in one batch
        seen.add(key)
        fields = {k: v for k, v in item.items() if k not in ("incident", "dedup_key", "category")}
        candidates.append((Mention(brand=brand, received_at=now, **fields), item))
    # In one order for every batch: two batches sharing mentions then wait on each
    # other's rows in the same order instead of deadlocking.
    candidates.sort(key=lambda pair: (pair[0].platform, pair[0].external_id))
    inserted = _insert_new([m for m, _item in candidates])
    fresh = []
    for mention, item in candidates:
        mention.pk = inserted.get((mention.platform, mention.external_id))
        if mention.pk is not None:
            fresh.append((mention, item))
    return fresh, len(items) - len(fresh)


_STORED_COLUMNS = (
    "brand",
    "platform",
    "external_id",
    "url",
    "author",
    "author_followers",
    "text",
    "sentiment",
    "reach",
    "published_at",
    "received_at",
)


def _insert_new(mentions: list[Mention]) -> dict[tuple[str, str], int]:
    """
    The ids of the mentions that were not stored yet, by (platform, external_id).

    One `INSERT … ON CONFLICT DO NOTHING RETURNING`: a retried post, or one a
    concurrent batch stores at the same moment, is skipped by the unique constraint
    instead of looked up first (no read, no savepoint, no retry). SQL, because
    Django's `bulk_create(ignore_conflicts=True)` cannot tell which rows it inserted.
    """
    if not mentions:
        return {}
    fields = [Mention._meta.get_field(name) for name in _STORED_COLUMNS]
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(Mention._meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
    tail = "ON CONFLICT (brand_id, platform, external_id) DO NOTHING RETURNING id, platform, external_id"
    rows = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array per column, unnested: eleven parameters whatever the batch size.
            # Strings travel as text[] (a varchar(n)[] cast would cut an over-long value
            # silently; the column's own type refuses it).
            arrays = ", ".join(f"%s::{_array_type(f)}[]" for f in fields)
            # Identifiers from the model's metadata; every value is a parameter.
            insert = f"{head} SELECT * FROM unnest({arrays}) {tail}"  # noqa: S608  # nosec B608
            cursor.execute(insert, [[getattr(m, f.attname) for m in mentions] for f in fields])
            rows = cursor.fetchall()
        else:
            row = f"({', '.join(['%s'] * len(fields))})"
            for start in range(0, len(mentions), 500):  # within SQLite's parameter limit
                chunk = mentions[start : start + 500]
                cursor.execute(
                    f"{head} VALUES {', '.join([row] * len(chunk))} {tail}",
                    [f.get_db_prep_save(getattr(m, f.attname), connection) for m in chunk for f in fields],
                )
                rows += cursor.fetchall()
    return {(platform, external_id): pk for pk, platform, external_id in rows}


def _array_type(field) -> str:
    return "text" if field.get_internal_type() in ("CharField", "TextField") else field.db_type(connection)


def _open_wave_id(brand: Brand) -> int | None:
    """
    The brand's open wave, if any. Not locked: attaching mentions to a wave that is
    being resolved meanwhile is harmless, and two batches that both find none and both
    open one end with one incident and a duplicate count (the dedup key's constraint).
    Locking it made every mention of a storm queue behind the one before.
    """
    return (
        Incident.all_brands.filter(brand=brand, dedup_key=WAVE_KEY, state__in=OPEN_STATES)
        .values_list("pk", flat=True)
        .first()
    )


def _file_wave(principal, brand, decision: detection.Wave, loose, now, category) -> Incident:
    first = min((m for m in loose if m.sentiment == Sentiment.NEGATIVE), key=lambda m: m.published_at)
    title = (
        _("Wave of negative mentions: %(count)d in %(minutes)d min")
        % {"count": decision.negatives_in_window, "minutes": detection.policy_for(brand).window_seconds // 60}
        if decision.reason == "volume"
        else _("Negative post by %(author)s (%(followers)d followers)")
        % {"author": first.author or "?", "followers": first.author_followers}
    )
    filing = services.incident_file(
        principal=principal,
        brand=brand,
        title=title[:200],
        description=(first.text or "")[:20000],
        category=category,
        severity=decision.severity,
        channel=first.platform,
        source_url=first.url,
        reach=decision.reach_in_window,
        dedup_key=WAVE_KEY,
        detected_at=min(decision.first_published_at, now),
        now=now,
    )
    # The wave began before this batch: the negatives already in the window belong to it.
    window = timedelta(seconds=detection.policy_for(brand).window_seconds)
    earlier = Mention.objects.filter(
        brand=brand,
        sentiment=Sentiment.NEGATIVE,
        published_at__gt=now - window,
        published_at__lte=now,
        wave_link__isnull=True,
    )
    _attach(filing.incident.pk, list(earlier), now)
    return filing.incident


def _attach(incident_id: int, mentions, now: datetime) -> None:
    WaveMention.objects.bulk_create(
        [WaveMention(incident_id=incident_id, mention=m, attached_at=now) for m in mentions],
        ignore_conflicts=True,
    )
