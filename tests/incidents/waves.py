"""
A wave of any size for tests of the wave view: mentions written with bulk_create and
attached with one INSERT … SELECT, in seconds for 100,000 (the intake path would take
minutes and is tested elsewhere).
"""

import math
from datetime import timedelta

from django.db import connection

from crisis.models import Mention
from incidents import wave_tally
from incidents.models import WaveMention
from incidents.waves import WAVE_KEY

PLATFORMS = ("vk", "telegram", "twitter", "instagram")


def reach_of(i: int) -> int:
    """A spread of reaches with many ties (so that paging must break them by id)."""
    return (i * 7919) % 5003 * 10


def rise_and_fall(share: float) -> float:
    """Where in the span the mention at `share` of the wave falls: a quick rise to 30 %, a slow ebb."""
    peak = 0.3
    return math.sqrt(share * peak) if share < peak else 1 - math.sqrt((1 - share) * (1 - peak))


def make_wave(file_incident, *, count: int, detected_at, span: timedelta, loud_every: int = 97, **fields):
    """A detected wave incident of `count` mentions published over `span` from `detected_at`."""
    incident = file_incident(
        title=fields.pop("title", f"Wave of negative mentions: {count}"),
        category="negative_wave",
        severity=fields.pop("severity", "high"),
        dedup_key=WAVE_KEY,
        detected_at=detected_at,
        **fields,
    )
    n = max(count, 1)
    Mention.all_brands.bulk_create(
        (
            Mention(
                brand_id=incident.brand_id,
                platform=PLATFORMS[i % len(PLATFORMS)],
                external_id=f"w{i}",
                url=f"https://example.org/post/{i}",
                author=f"author{i % 1000}",
                author_followers=250_000 if i % loud_every == 0 else i % 5000,
                text=f"Mention number {i}: the promo went wrong",
                # Mostly negative at first, calmer as the wave goes on.
                sentiment="negative" if (i * 37) % 100 < 90 - 60 * i // n else "neutral",
                reach=reach_of(i) + (200_000 if i % loud_every == 0 else 0),  # the loud are read widely
                published_at=detected_at + span * rise_and_fall(i / n),
                received_at=detected_at + span * rise_and_fall(i / n),
                wave_counted_at=detected_at + span * rise_and_fall(i / n),
            )
            for i in range(count)
        ),
        batch_size=5000,
    )
    table, mentions = WaveMention._meta.db_table, Mention._meta.db_table
    with connection.cursor() as cursor:
        # Table names from the models' metadata; every value is a parameter.
        cursor.execute(
            f"INSERT INTO {table} (incident_id, mention_id, attached_at, reach) "  # noqa: S608  # nosec B608
            f"SELECT %s, id, published_at, reach FROM {mentions} "
            "WHERE brand_id = %s AND external_id LIKE 'w%%'",
            [incident.pk, incident.brand_id],
        )
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {table}, {mentions}")
    wave_tally.tally_recount(incident.pk)  # as a merge would: the wave's counters
    return incident
