"""
A wave's counters (`incidents.wave_tally`) and how its incident follows them (README,
"A wave's automatic severity"): counted set-wise as mentions attach, right under
concurrency; the title rewritten at steps of the count only; the incident's row locked
only when something about it changes.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import Count, Max, Sum
from django.test.utils import CaptureQueriesContext

from crisis.models import DetectionPolicy, Mention
from crisis.tenancy import Principal
from incidents import command, wave_tally
from incidents.models import Incident, TimelineEvent, WaveMention, WaveTally
from incidents.waves import WAVE_KEY, title_step

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def mention(i, at, sentiment="negative", **extra):
    return {
        "external_id": f"post-{i}",
        "platform": "vk",
        "url": f"https://vk.com/wall-1_{i}",
        "author": f"user{i}",
        "author_followers": 100 + i,
        "text": f"Mention {i}",
        "sentiment": sentiment,
        "reach": 10 * i,
        "published_at": at.isoformat(),
        **extra,
    }


def wrote_the_incident(queries) -> bool:
    """A lock on an incident's row (PostgreSQL), or a write to one (any database)."""
    return any(
        "FOR UPDATE" in q["sql"] or q["sql"].startswith('UPDATE "incidents_incident"')
        for q in queries.captured_queries
    )


def post(client, body, at):
    with time_machine.travel(at, tick=False):
        response = client.post("/api/v1/mentions/", body, format="json")
    assert response.status_code == 202, response.data
    return response


def counted(incident_id) -> tuple:
    """The tally's figures, and the same figures counted from the wave's mentions."""
    tally = WaveTally.all_brands.get(incident_id=incident_id)
    figures = WaveMention.all_brands.filter(incident_id=incident_id, mention__sentiment="negative").aggregate(
        n=Count("pk"), reach=Sum("mention__reach"), loudest=Max("mention__author_followers"),
        last=Max("mention__published_at"),
    )  # fmt: skip
    return (
        (tally.negatives, tally.reach, tally.loudest, tally.last_published_at),
        (figures["n"], figures["reach"] or 0, figures["loudest"] or 0, figures["last"]),
    )


@pytest.mark.parametrize(
    "count,min_count,step",
    [(0, 10, 0), (9, 10, 0), (10, 10, 10), (19, 10, 10), (20, 10, 20), (49, 10, 20), (50, 10, 50),
     (99, 10, 50), (100, 10, 100), (1999, 10, 1000), (2000, 10, 2000), (5001, 10, 5000),
     (3, 3, 3), (4, 3, 3), (5, 3, 5), (15, 15, 15), (19, 15, 15), (20, 15, 20), (1, 0, 1)],
)  # fmt: skip
def test_title_steps(count, min_count, step):
    assert title_step(count, min_count) == step


def test_the_title_follows_the_count_by_steps_and_the_row_is_locked_only_then(key_client, acme):
    """One negative at a time: the tally counts each; the incident's row is written at steps only."""
    at = T0
    post(key_client, [mention(i, at + timedelta(seconds=i)) for i in range(10)], at + timedelta(seconds=10))
    wave = Incident.all_brands.get(brand=acme, dedup_key=WAVE_KEY)
    assert (wave.title, wave.severity) == ("Wave of negative mentions: 10 in 10 min", "medium")
    titles, locked_at = {}, []
    for i in range(10, 55):
        when = at + timedelta(seconds=20 * i)
        with CaptureQueriesContext(connection) as queries:
            post(key_client, mention(i, when), when)
        if wrote_the_incident(queries):
            locked_at.append(i + 1)  # the wave's count after this post
        wave.refresh_from_db()
        titles.setdefault(wave.title, i + 1)
    # Locked at 20 (high, 20+) and at 50 (critical, 50+): never in between.
    assert locked_at == [20, 50]
    assert titles == {
        "Wave of negative mentions: 10 in 10 min": 11,
        "Wave of negative mentions: 20+ in 10 min": 20,  # 380 s from the first to the 20th
        "Wave of negative mentions: 50+ in 17 min": 50,  # 980 s
    }
    assert wave.severity == "critical"
    assert counted(wave.pk)[0] == counted(wave.pk)[1] == (55, sum(10 * i for i in range(55)), 154, when)


def test_a_loud_author_raises_the_wave_without_a_step(key_client, acme):
    post(key_client, [mention(i, T0) for i in range(12)], T0)
    wave = Incident.all_brands.get(brand=acme, dedup_key=WAVE_KEY)
    assert wave.severity == "medium"
    post(key_client, mention(99, T0, author_followers=150_000), T0 + timedelta(minutes=1))
    wave.refresh_from_db()
    assert (wave.severity, wave.title) == ("high", "Wave of negative mentions: 12 in 10 min")  # 13: no step
    assert WaveTally.all_brands.get(incident=wave).loudest == 150_000


def test_a_person_s_severity_wins_and_is_not_locked_for(key_client, acme, alice):
    post(key_client, [mention(i, T0) for i in range(12)], T0)
    wave = Incident.all_brands.get(brand=acme, dedup_key=WAVE_KEY)
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        command.incident_severity_change(
            incident_id=wave.pk, principal=Principal.for_user(alice), severity="low", reason="Bots."
        )
    for i in range(12, 25):  # past 20: the rule says high
        when = T0 + timedelta(minutes=2, seconds=i)
        with CaptureQueriesContext(connection) as queries:
            post(key_client, mention(i, when), when)
        assert wrote_the_incident(queries) == (i + 1 == 20), i  # the title's step only
    wave.refresh_from_db()
    assert (wave.severity, wave.title) == ("low", "Wave of negative mentions: 20+ in 10 min")
    changes = TimelineEvent.all_brands.filter(incident=wave, kind="severity_changed")
    assert [(e.data["to"], e.actor_label) for e in changes.order_by("pk")] == [("low", "alice")]


def test_a_title_never_goes_back_to_a_lower_step(key_client, acme):
    """Two batches reaching 20 and 50 at once: whichever locks last, the title names 50."""
    post(key_client, [mention(i, T0) for i in range(50)], T0)
    wave = Incident.all_brands.get(brand=acme, dedup_key=WAVE_KEY)
    assert WaveTally.all_brands.get(incident=wave).title_step == 50
    title = wave.title
    command.incident_wave_grew(
        incident_id=wave.pk, severity="medium", title="Wave of negative mentions: 20+ in 10 min",
        title_step=20, reason="late", data={},
    )  # fmt: skip
    wave.refresh_from_db()
    assert (wave.title, WaveTally.all_brands.get(incident=wave).title_step) == (title, 50)


def test_a_mention_linked_again_is_not_counted_again(acme, file_incident):
    incident = file_incident(title="A fake story")
    rows = Mention.all_brands.bulk_create(
        Mention(brand=acme, platform="vk", external_id=str(i), sentiment="negative", reach=5, published_at=T0)
        for i in range(4)
    )
    with transaction.atomic():
        linked = wave_tally.link(incident.pk, rows[:3], T0)
        wave_tally.tally_add({incident.pk: wave_tally.figures_of(linked)})
    with transaction.atomic():
        linked = wave_tally.link(incident.pk, rows, T0)  # three of them again
        assert linked == rows[3:]
        tallies = wave_tally.tally_add({incident.pk: wave_tally.figures_of(linked)})
    assert (tallies[incident.pk].negatives, tallies[incident.pk].reach) == (4, 20)
    assert counted(incident.pk)[0] == counted(incident.pk)[1]


def test_a_merge_moves_the_counts_with_the_mentions(key_client, api, acme, alice, file_incident):
    post(key_client, [mention(i, T0) for i in range(12)], T0)
    wave = Incident.all_brands.get(brand=acme, dedup_key=WAVE_KEY)
    target = file_incident(title="The promo", severity="high")
    response = api(alice).post(f"/api/v1/incidents/{wave.pk}/merge/", {"into": target.pk}, format="json")
    assert response.status_code == 200, response.data
    assert counted(target.pk)[0] == counted(target.pk)[1] == (12, sum(10 * i for i in range(12)), 111, T0)
    assert counted(wave.pk)[0] == (0, 0, 0, None)
    # The key moved: the next negative counts on the target, from its merged figures.
    post(key_client, mention(12, T0), T0 + timedelta(minutes=1))
    assert counted(target.pk)[0][0] == 13


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_batches_attaching_at_once_are_all_counted_once(acme_key, acme):
    """
    Six batches race to a brand with no wave: the first to file opens it, the others count
    a duplicate and attach the window's earlier negatives too (the same mentions, linked
    once); then six more race to the open wave. The tally matches the mentions it holds.
    """
    from rest_framework.test import APIClient

    from tests.conftest import all_at_once

    DetectionPolicy.objects.create(brand=acme, min_count=5, ratio=1.0, follower_threshold=10**9)
    clients = []
    for _ in range(6):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {acme_key.plain}")
        clients.append(client)

    def batches(first):
        return [
            [mention(first + 40 * n + i, T0, "negative" if i % 4 else "neutral") for i in range(40)]
            for n in range(6)
        ]

    for round_, first in enumerate((0, 1000)):
        at = T0 + timedelta(minutes=round_)
        work = [(client, batch, at) for client, batch in zip(clients, batches(first), strict=True)]
        all_at_once(lambda job: post(*job), work)
        wave = Incident.all_brands.get(brand=acme, dedup_key=WAVE_KEY)
        tally, fact = counted(wave.pk)
        assert tally == fact
        assert tally[0] == 6 * 30 * (round_ + 1)
    assert Incident.all_brands.filter(brand=acme).count() == 1
    assert wave.severity == "critical"  # 360 ≥ 5 × min_count


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_merge_in_the_middle_of_a_storm_keeps_both_tallies_right(acme_key, acme, alice, api, file_incident):
    """A manager merges the wave into another incident while six batches attach to it: no deadlock."""
    from rest_framework.test import APIClient

    from tests.conftest import all_at_once

    DetectionPolicy.objects.create(brand=acme, min_count=5, ratio=1.0, follower_threshold=10**9)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {acme_key.plain}")
    post(client, [mention(i, T0) for i in range(10)], T0)
    wave = Incident.all_brands.get(brand=acme, dedup_key=WAVE_KEY)
    target = file_incident(title="The promo", severity="high")
    manager = api(alice)

    def storm(n):
        batch = [mention(100 + 40 * n + i, T0, "negative" if i % 4 else "neutral") for i in range(40)]
        return post(client, batch, T0 + timedelta(minutes=1)).status_code

    def merge(_):
        return manager.post(
            f"/api/v1/incidents/{wave.pk}/merge/", {"into": target.pk}, format="json"
        ).status_code

    jobs = [(storm, n) for n in range(6)] + [(merge, None)]
    assert sorted(all_at_once(lambda job: job[0](job[1]), jobs)) == [200] + [202] * 6
    totals = 0
    for incident in (wave, target):
        tally, fact = counted(incident.pk)
        assert tally == fact
        totals += tally[0]
    assert totals == 10 + 6 * 30
    assert not WaveMention.all_brands.filter(incident=wave).exclude(mention__received_at__gt=T0).exists()


def test_the_migration_counts_the_waves_written_before_it(key_client, acme, file_incident):
    """incidents 0024: every incident holding wave mentions gets its tally, its title at its step."""
    import importlib

    from django.db.migrations.loader import MigrationLoader

    apps = MigrationLoader(connection).project_state(("incidents", "0024_wave_tally")).apps
    backfill = importlib.import_module("incidents.migrations.0024_wave_tally").backfill
    post(key_client, [mention(i, T0 + timedelta(seconds=i)) for i in range(23)], T0 + timedelta(minutes=1))
    wave = Incident.all_brands.get(brand=acme, dedup_key=WAVE_KEY)
    post(key_client, [mention(i, T0, "neutral") for i in range(30, 33)], T0 + timedelta(minutes=1))
    named = file_incident(title="A fake story")
    post(key_client, mention(40, T0, "positive", incident=named.pk), T0 + timedelta(minutes=2))
    WaveTally.all_brands.all().delete()  # as before the migration

    backfill(apps, None)

    assert (
        counted(wave.pk)[0]
        == counted(wave.pk)[1]
        == (23, sum(10 * i for i in range(23)), 122, T0 + timedelta(seconds=22))
    )
    assert WaveTally.all_brands.get(incident=wave).title_step == 20
    assert counted(named.pk)[0] == (0, 0, 0, None)
