"""
Mentions: storing what monitoring tools report, once each, and marking what a wave counted.

Detection (`crisis.detection`) weighs only the mentions no wave has counted yet
(`Mention.wave_counted_at` is null). Whoever attaches mentions to a wave marks them
counted, in the transaction that attaches them: when it knows the wave before storing
them (a wave already open), as it stores them (`counted`); otherwise afterwards, with
`mentions_mark_counted`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet

from .models import Brand, Mention, Sentiment

# The columns the raw INSERT writes, in order; every other column keeps its default.
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
    "wave_counted_at",
)
# What an item may set (it may carry more, for whoever acts on the mention).
_ITEM_FIELDS = frozenset(_STORED_COLUMNS) - {"brand", "received_at", "wave_counted_at"}


@dataclass(frozen=True)
class Stored:
    fresh: list[tuple[Mention, dict]]  # the mentions stored now, each with the item it came from
    duplicates: int  # items already stored, or repeated within the batch


def mentions_store(
    *, brand: Brand, items: list[dict], now: datetime, counted: Callable[[dict], bool] = lambda item: False
) -> Stored:
    """
    Insert the mentions not stored yet (same brand, platform, external_id); the rest are
    duplicates. Those whose item is `counted` are stored as counted by a wave at `now`:
    the caller attaches them to it in this transaction. (Marking them as they are
    inserted spares rewriting each row, and its index entries, a moment later.)
    """
    candidates, seen = [], set()
    for item in items:
        key = (item["platform"], item["external_id"])
        if key in seen:
            continue  # the same post twice in one batch
        seen.add(key)
        fields = {k: v for k, v in item.items() if k in _ITEM_FIELDS}
        wave_counted_at = now if counted(item) else None
        candidates.append(
            (Mention(brand=brand, received_at=now, wave_counted_at=wave_counted_at, **fields), item)
        )
    # In one order for every batch: two batches sharing mentions then wait on each
    # other's rows in the same order instead of deadlocking.
    candidates.sort(key=lambda pair: (pair[0].platform, pair[0].external_id))
    inserted = _insert_new([m for m, _item in candidates])
    fresh = []
    for mention, item in candidates:
        mention.pk = inserted.get((mention.platform, mention.external_id))
        if mention.pk is not None:
            fresh.append((mention, item))
    return Stored(fresh, len(items) - len(fresh))


def mentions_mark_counted(*, brand: Brand, ids: list[int], at: datetime) -> int:
    """
    Mark the brand's mentions `ids` as counted by a wave, so detection does not weigh
    them again; returns how many. Call in the transaction that attaches them to the
    wave. One already counted keeps its first time.
    """
    if not ids:
        return 0  # (an empty filter would match every row)
    rows = Mention.objects.for_brands([brand.pk]).filter(pk__in=ids, wave_counted_at__isnull=True)
    return rows.update(wave_counted_at=at)


def mentions_uncounted_negative(*, brand: Brand) -> QuerySet[Mention]:
    """The brand's negative mentions no wave has counted yet: what detection weighs."""
    return Mention.objects.for_brands([brand.pk]).filter(
        sentiment=Sentiment.NEGATIVE, wave_counted_at__isnull=True
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
