"""
A wave's running figures (`WaveTally`): linking mentions to an incident and counting
what was linked, set-wise.

`waves` links the mentions it attaches here (`link`), which says which of them were
linked now (a mention already linked, by an earlier or a concurrent batch, stays where
it is and is not counted again), and adds the figures of the negatives among them to
the incident's tally at the end of its transaction (`tally_add`): one
`INSERT … ON CONFLICT DO UPDATE SET negatives = negatives + …` per incident, which
returns the tally as it now stands. Two batches attaching at once queue on that row
only from the UPDATE to their commit, and each adds its own, so both are counted. A
merge moves wave mentions between incidents and recounts both (`tally_recount`).
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Count, Max, Sum
from django.utils.dateparse import parse_datetime

from crisis.models import Mention, Sentiment

from .models import WaveMention, WaveTally


@dataclass(frozen=True)
class Figures:
    """What an attach adds to a tally, or a tally as it stands (`title_step` then too)."""

    negatives: int = 0
    reach: int = 0
    loudest: int = 0
    last_published_at: datetime | None = None
    title_step: int = 0

    def plus(self, other: "Figures") -> "Figures":
        lasts = [at for at in (self.last_published_at, other.last_published_at) if at is not None]
        return Figures(
            self.negatives + other.negatives,
            self.reach + other.reach,
            max(self.loudest, other.loudest),
            max(lasts) if lasts else None,
            max(self.title_step, other.title_step),
        )


def figures_of(mentions: list[Mention]) -> Figures:
    """The figures the negatives among `mentions` add to a tally."""
    negatives = [m for m in mentions if m.sentiment == Sentiment.NEGATIVE]
    if not negatives:
        return Figures()
    return Figures(
        len(negatives),
        sum(m.reach for m in negatives),
        max(m.author_followers for m in negatives),
        max(m.published_at for m in negatives),
    )


def link(incident_id: int, mentions: list[Mention], now: datetime) -> list[Mention]:
    """
    Link the mentions to the incident; returns those linked now. One already linked to
    any incident (a mention belongs to one) is skipped by the unique constraint. SQL,
    because `bulk_create(ignore_conflicts=True)` cannot tell which rows it inserted.
    """
    if not mentions:
        return []
    quote = connection.ops.quote_name
    table = quote(WaveMention._meta.db_table)
    columns = ", ".join(quote(c) for c in ("incident_id", "mention_id", "attached_at", "reach"))
    tail = "ON CONFLICT DO NOTHING RETURNING mention_id"
    linked: set[int] = set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Two arrays unnested together: four parameters whatever the batch size.
            # Identifiers from the model's metadata; every value is a parameter.
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT %s, m, %s, r "  # noqa: S608  # nosec B608
                f"FROM unnest(%s::bigint[], %s::bigint[]) AS u (m, r) {tail}",
                [incident_id, now, [m.pk for m in mentions], [m.reach for m in mentions]],
            )
            linked.update(row[0] for row in cursor.fetchall())
        else:
            attached_at = WaveMention._meta.get_field("attached_at").get_db_prep_save(now, connection)
            for start in range(0, len(mentions), 200):  # within SQLite's parameter limit
                chunk = mentions[start : start + 200]
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) "  # noqa: S608  # nosec B608
                    f"VALUES {', '.join(['(%s, %s, %s, %s)'] * len(chunk))} {tail}",
                    [value for m in chunk for value in (incident_id, m.pk, attached_at, m.reach)],
                )
                linked.update(row[0] for row in cursor.fetchall())
    return [m for m in mentions if m.pk in linked]


def tally_add(additions: dict[int, Figures]) -> dict[int, Figures]:
    """
    Add each incident's figures to its tally (made on first use); returns the tallies as
    they now stand. Call last in the transaction that linked the mentions: the row stays
    locked until it commits. In incident order, so two batches wait in one order.
    """
    quote = connection.ops.quote_name
    table = quote(WaveTally._meta.db_table)
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"  # SQLite's two-argument max
    upsert = (
        f"INSERT INTO {table} AS t (incident_id, negatives, reach, loudest, last_published_at, title_step) "  # noqa: S608  # nosec B608
        "VALUES (%s, %s, %s, %s, %s, 0) ON CONFLICT (incident_id) DO UPDATE SET "
        "negatives = t.negatives + excluded.negatives, reach = t.reach + excluded.reach, "
        f"loudest = {greatest}(t.loudest, excluded.loudest), last_published_at = "
        f"{greatest}(COALESCE(t.last_published_at, excluded.last_published_at), "
        "COALESCE(excluded.last_published_at, t.last_published_at)) "
        "RETURNING negatives, reach, loudest, last_published_at, title_step"
    )
    at_field = WaveTally._meta.get_field("last_published_at")
    tallies = {}
    with connection.cursor() as cursor:
        for incident_id in sorted(additions):
            add = additions[incident_id]
            if not add.negatives:
                continue
            last = at_field.get_db_prep_save(add.last_published_at, connection)
            cursor.execute(upsert, [incident_id, add.negatives, add.reach, add.loudest, last])
            negatives, reach, loudest, last, title_step = cursor.fetchone()
            tallies[incident_id] = Figures(negatives, reach, loudest, _aware(last), title_step)
    return tallies


def tally_start(incident_id: int, *, title_step: int) -> None:
    """A new wave's tally, its title already naming `title_step` (a tally already there stays)."""
    WaveTally.all_brands.bulk_create(
        [WaveTally(incident_id=incident_id, title_step=title_step)], ignore_conflicts=True
    )


def tally_recount(incident_id: int) -> None:
    """
    Count the incident's negative wave mentions again (after a merge moved some). The
    tally row is locked before counting: a batch that added to it first has committed by
    then and its mentions are counted; one that links mentions meanwhile adds them after.
    """
    with transaction.atomic():
        _recount(incident_id)


def _recount(incident_id: int) -> None:
    WaveTally.all_brands.bulk_create([WaveTally(incident_id=incident_id)], ignore_conflicts=True)
    WaveTally.all_brands.select_for_update().filter(incident_id=incident_id).values_list("pk").first()
    figures = WaveMention.all_brands.filter(
        incident_id=incident_id, mention__sentiment=Sentiment.NEGATIVE
    ).aggregate(
        negatives=Count("pk"),
        reach=Sum("mention__reach"),
        loudest=Max("mention__author_followers"),
        last_published_at=Max("mention__published_at"),
    )
    WaveTally.all_brands.filter(incident_id=incident_id).update(
        negatives=figures["negatives"],
        reach=figures["reach"] or 0,
        loudest=figures["loudest"] or 0,
        last_published_at=figures["last_published_at"],
    )


def _aware(value) -> datetime | None:
    """A datetime as RETURNING gave it: PostgreSQL's is aware, SQLite's a naive UTC string."""
    if value is None or (isinstance(value, datetime) and value.tzinfo is not None):
        return value
    parsed = parse_datetime(value) if isinstance(value, str) else value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
