"""Mention intake and crisis detection."""

import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crisis import detection
from crisis.mentions import mentions_mark_counted, mentions_store
from crisis.models import DetectionPolicy, Mention
from incidents.models import Incident, TimelineEvent, WaveMention

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def mention(i, at, sentiment="neutral", **extra):
    return {
        "external_id": f"post-{i}",
        "platform": "vk",
        "url": f"https://vk.com/wall-1_{i}",
        "author": f"user{i}",
        "author_followers": 150,
        "text": f"Mention {i}",
        "sentiment": sentiment,
        "reach": 500,
        "published_at": at.isoformat(),
        **extra,
    }


def post(client, body, at):
    with time_machine.travel(at, tick=False):
        return client.post("/api/v1/mentions/", body, format="json")


def stream(burst: bool):
    """500 mentions: a calm day (a few negatives), then, if `burst`, 50 negatives in 8 minutes."""
    rng = random.Random(7)
    calm = [
        (
            T0 + timedelta(minutes=2.7 * i),
            "negative" if rng.random() < 0.08 else rng.choice(["neutral", "positive"]),
        )
        for i in range(450)
    ]
    calm = [(at, s if at < T0 + timedelta(hours=18) else "neutral") for at, s in calm]
    start = T0 + timedelta(hours=21)
    tail = [(start + timedelta(seconds=10 * i), "negative" if burst else "neutral") for i in range(50)]
    return [mention(i, at, s) for i, (at, s) in enumerate(calm + tail)]


def test_a_burst_opens_exactly_one_incident_at_the_right_moment(key_client, acme):
    opened_at = None
    for item in stream(burst=True):
        response = post(key_client, item, datetime.fromisoformat(item["published_at"]))
        assert response.status_code == 202, response.data
        if response.data["incidents"] and opened_at is None:
            opened_at = item["published_at"]
    incident = Incident.all_brands.get(brand=acme)
    burst = [m for m in stream(burst=True)[450:]]
    # The 10th negative of the window trips the default threshold (min_count 10).
    assert opened_at == burst[9]["published_at"]
    assert incident.detected_at.isoformat() == burst[0]["published_at"]
    assert (incident.category, incident.state, incident.dedup_key) == (
        "negative_wave",
        "detected",
        "mention-wave",
    )
    # The wave opens medium (10 negatives, 5,000 reach) and is raised as it grows (README,
    # "A wave's automatic severity"): high at 20 negatives, critical at 50.
    assert incident.severity == "critical"
    raised = TimelineEvent.all_brands.filter(incident=incident, kind="severity_changed").order_by("pk")
    assert [(e.data["from"], e.data["to"], e.data["negatives"], e.actor_label) for e in raised] == [
        ("medium", "high", 20, "system"),
        ("high", "critical", 50, "system"),
    ]
    assert incident.title == "Wave of negative mentions: 50+ in 10 min"
    assert WaveMention.all_brands.filter(incident=incident).count() == 50
    assert Mention.all_brands.filter(brand=acme).count() == 500


def test_a_quiet_stream_opens_nothing(key_client, acme):
    for item in stream(burst=False):
        assert post(key_client, item, datetime.fromisoformat(item["published_at"])).status_code == 202
    assert not Incident.all_brands.exists()


def test_a_loud_author_opens_an_incident_alone(key_client, acme):
    at = T0 + timedelta(hours=1)
    response = post(key_client, mention(1, at, "negative", author_followers=250_000), at)
    incident = Incident.all_brands.get(pk=response.data["incidents"][0])
    assert incident.severity == "high"
    assert "250000" in incident.title


def test_replaying_a_batch_changes_nothing(key_client, acme):
    at = T0 + timedelta(hours=2)
    batch = [mention(i, at - timedelta(seconds=i), "negative") for i in range(12)]
    first = post(key_client, batch, at)
    again = post(key_client, batch, at)
    assert (first.data["accepted"], first.data["duplicates"]) == (12, 0)
    assert (again.data["accepted"], again.data["duplicates"]) == (0, 12)
    assert again.data["incidents"] == []  # a replay touches no incident
    assert Mention.all_brands.count() == 12
    assert Incident.all_brands.count() == 1
    assert WaveMention.all_brands.count() == 12


def test_a_batch_of_1001_is_refused_and_nothing_is_stored(key_client, acme):
    at = T0 + timedelta(hours=2)
    response = post(key_client, [mention(i, at) for i in range(1001)], at)
    assert response.status_code == 400
    assert "1000" in str(response.data)
    assert not Mention.all_brands.exists()


@pytest.mark.parametrize(
    "bad",
    [
        {"text": "x" * 10_001},
        {"sentiment": "furious"},
        {"platform": "myspace"},
        {"published_at": "2999-01-01T00:00:00Z"},
        {"reach": -1},
        {"external_id": ""},
        {"url": "javascript:alert(1)"},
        {"incident": 999999},
        {"extra": 1},
    ],
)
def test_bad_mentions_are_400_and_nothing_is_stored(bad, key_client, acme):
    at = T0 + timedelta(hours=2)
    response = post(key_client, [mention(1, at), {**mention(2, at), **bad}], at)
    assert response.status_code == 400, response.data
    assert not Mention.all_brands.exists()


def test_a_huge_body_is_413(key_client, acme, settings):
    at = T0 + timedelta(hours=2)
    batch = [mention(i, at, text="y" * 9_000) for i in range(300)]  # about 2.8 MB
    assert post(key_client, batch, at).status_code == 413
    assert not Mention.all_brands.exists()


def test_a_key_of_brand_a_cannot_post_for_brand_b(key_client, acme, globex):
    at = T0 + timedelta(hours=2)
    response = post(key_client, mention(1, at, brand="globex"), at)
    assert response.status_code == 400
    assert "brand" in response.data
    assert not Mention.all_brands.exists()


def test_members_post_with_a_brand_and_viewers_cannot(api, bob, carol, acme):
    at = T0 + timedelta(hours=2)
    assert post(api(bob), mention(1, at, brand="acme"), at).status_code == 202
    assert post(api(carol), mention(2, at, brand="acme"), at).status_code == 403
    assert post(api(bob), mention(3, at), at).status_code == 400  # no brand named


def test_a_mention_can_name_its_incident(key_client, api, alice, acme, file_incident):
    incident = file_incident(dedup_key="store-42-queue")
    at = T0 + timedelta(hours=2)
    post(key_client, [mention(1, at, incident=incident.pk), mention(2, at, dedup_key="store-42-queue")], at)
    assert WaveMention.all_brands.filter(incident=incident).count() == 2


def test_a_mention_naming_a_key_merged_away_goes_to_the_incident_it_was_merged_into(
    key_client, alice, acme, file_incident
):
    from crisis.tenancy import Principal
    from incidents import command

    merged, target = file_incident(dedup_key="store-42-queue"), file_incident(dedup_key="store-42-hall")
    command.incident_merge(incident_id=merged.pk, principal=Principal.for_user(alice), into=target.pk)
    at = T0 + timedelta(hours=2)
    post(
        key_client,
        [mention(1, at, dedup_key="store-42-queue"), mention(2, at, dedup_key="store-42-hall")],
        at,
    )
    assert WaveMention.all_brands.filter(incident=target).count() == 2


def test_wave_figures_show_whether_the_response_helped(key_client, api, bob, alice, acme, incident_in):
    start = T0 + timedelta(hours=2)
    burst = [mention(i, start + timedelta(seconds=i), "negative") for i in range(10)]
    incident_id = post(key_client, burst, start + timedelta(seconds=10)).data["incidents"][0]
    incident = Incident.all_brands.get(pk=incident_id)
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        incident_in(incident, "acknowledged", manager=alice, responder=bob)
    calmer = [
        mention(100 + i, start + timedelta(minutes=6, seconds=i), "negative" if i < 2 else "neutral")
        for i in range(10)
    ]
    post(key_client, calmer, start + timedelta(minutes=7))
    with time_machine.travel(start + timedelta(minutes=8), tick=False):
        figures = api(bob).get(f"/api/v1/incidents/{incident_id}/wave/").data
    assert figures["mentions"] == 12  # the wave's negatives; neutral ones are not attached
    assert figures["before_claim"]["negative_share"] == 1.0
    assert figures["after_claim"]["negative_share"] == 0.2
    assert sum(p["mentions"] for p in figures["series"]) == 20


def test_thresholds_per_brand(api, alice, bob, key_client, acme):
    assert api(bob).get("/api/v1/brands/acme/detection/").data["min_count"] == 10
    body = {
        "enabled": True,
        "window_seconds": 600,
        "baseline_seconds": 86400,
        "min_count": 3,
        "ratio": 2.0,
        "follower_threshold": 1_000_000,
    }
    assert api(bob).put("/api/v1/brands/acme/detection/", body, format="json").status_code == 403
    assert (
        api(alice).put("/api/v1/brands/acme/detection/", {**body, "min_count": 0}, format="json").status_code
        == 400
    )
    assert api(alice).put("/api/v1/brands/acme/detection/", body, format="json").status_code == 200
    assert DetectionPolicy.all_brands.get(brand=acme).min_count == 3
    at = T0 + timedelta(hours=2)
    response = post(key_client, [mention(i, at, "negative") for i in range(3)], at)
    assert len(response.data["incidents"]) == 1


def test_an_empty_batch_stores_nothing_and_reads_nothing(key_client, acme, django_assert_max_num_queries):
    at = T0 + timedelta(hours=1)
    post(key_client, [mention(i, at) for i in range(20)], at)
    # An empty filter would have read every stored mention of the brand.
    with django_assert_max_num_queries(6):
        response = post(key_client, [], at)
    assert response.status_code == 202
    assert response.data["accepted"] == 0
    assert Mention.all_brands.count() == 20


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_batch_posted_twice_at_once_is_stored_once(acme_key, acme):
    """Two deliveries of one batch race: each mention is stored once, the other copy counted."""
    from rest_framework.test import APIClient

    from tests.conftest import all_at_once

    at = T0 + timedelta(hours=1)
    body = [
        mention(i, at - timedelta(seconds=i), "negative" if i % 5 == 0 else "neutral") for i in range(300)
    ]
    clients = [APIClient() for _ in range(4)]
    for client in clients:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {acme_key.plain}")
    answers = all_at_once(lambda client: post(client, body, at), clients)
    assert [a.status_code for a in answers] == [202] * 4
    assert sum(a.data["accepted"] for a in answers) == 300
    assert sum(a.data["duplicates"] for a in answers) == 900
    assert Mention.all_brands.filter(brand=acme).count() == 300


@pytest.mark.postgres
def test_the_raw_store_refuses_an_over_long_value_instead_of_cutting_it(acme):
    """Rules drift: if validation ever let a longer id through, the column must refuse it."""
    from django.db import DataError, transaction

    at = T0 + timedelta(hours=1)
    too_long = {**mention(1, at), "published_at": at, "external_id": "x" * 300}
    with pytest.raises(DataError), transaction.atomic():
        mentions_store(brand=acme, items=[too_long], now=at)
    assert Mention.all_brands.filter(brand=acme).count() == 0


def test_the_store_keeps_each_post_once_and_says_which_are_new(acme):
    at = T0 + timedelta(hours=1)
    items = [{**mention(i, at), "published_at": at} for i in (1, 2, 2)]
    first = mentions_store(brand=acme, items=items, now=at)
    assert [m.external_id for m, _item in first.fresh] == ["post-1", "post-2"]
    assert first.duplicates == 1  # the same post twice in one batch
    assert all(m.pk and m.wave_counted_at is None for m, _item in first.fresh)
    again = mentions_store(brand=acme, items=[*items, {**mention(3, at), "published_at": at}], now=at)
    assert [m.external_id for m, _item in again.fresh] == ["post-3"]
    assert again.duplicates == 3
    assert Mention.all_brands.filter(brand=acme).count() == 3


def test_a_mention_a_wave_counted_is_not_counted_again(key_client, acme, alice, bob, incident_in):
    DetectionPolicy.objects.create(brand=acme, min_count=3, ratio=1.0, follower_threshold=10**9)
    at = T0 + timedelta(hours=2)
    first = post(key_client, [mention(i, at - timedelta(seconds=i), "negative") for i in range(3)], at)
    wave = Incident.all_brands.get(pk=first.data["incidents"][0])
    counted = Mention.all_brands.filter(brand=acme)
    assert sorted(counted.values_list("wave_counted_at", flat=True)) == [at] * 3
    with time_machine.travel(at + timedelta(minutes=1), tick=False):
        incident_in(wave, "resolved", manager=alice, responder=bob)  # no wave open any more
    # Two new negatives in the same window: five in all, but three were the last wave's.
    later = at + timedelta(minutes=2)
    second = post(key_client, [mention(10 + i, later, "negative") for i in range(2)], later)
    assert second.data["incidents"] == []
    assert Incident.all_brands.filter(brand=acme).count() == 1
    assert Mention.all_brands.filter(brand=acme, wave_counted_at__isnull=True).count() == 2
    # The third uncounted one makes three: a new wave, which counts only those three.
    third = post(key_client, [mention(20, later, "negative")], later)
    new_wave = Incident.all_brands.get(pk=third.data["incidents"][0])
    assert new_wave.pk != wave.pk
    assert WaveMention.all_brands.filter(incident=new_wave).count() == 3
    assert not Mention.all_brands.filter(brand=acme, wave_counted_at__isnull=True).exists()


def test_detection_weighs_only_uncounted_negatives(acme):
    DetectionPolicy.objects.create(brand=acme, min_count=3, ratio=1.0, follower_threshold=10**9)
    at = T0 + timedelta(hours=2)
    stored = mentions_store(
        brand=acme,
        items=[{**mention(i, at), "sentiment": "negative", "published_at": at} for i in range(4)],
        now=at,
    )
    fresh = [m for m, _item in stored.fresh]
    assert detection.detect(brand=acme, fresh=fresh, now=at).negatives_in_window == 4
    assert mentions_mark_counted(brand=acme, ids=[m.pk for m in fresh[:2]], at=at) == 2
    assert mentions_mark_counted(brand=acme, ids=[m.pk for m in fresh[:2]], at=at + timedelta(minutes=1)) == 0
    assert detection.detect(brand=acme, fresh=fresh[2:], now=at) is None  # two left, fewer than three
    assert set(
        Mention.all_brands.filter(pk__in=[m.pk for m in fresh[:2]]).values_list("wave_counted_at", flat=True)
    ) == {at}


def test_what_an_open_wave_or_a_named_incident_takes_is_counted_as_it_is_stored(
    key_client, acme, file_incident
):
    DetectionPolicy.objects.create(brand=acme, min_count=3, ratio=1.0, follower_threshold=10**9)
    at = T0 + timedelta(hours=2)
    wave_id = post(key_client, [mention(i, at, "negative") for i in range(3)], at).data["incidents"][0]
    named = file_incident(title="A fake story")
    later = at + timedelta(minutes=1)
    batch = [
        mention(10, later, "negative"),  # the open wave's
        mention(11, later, "neutral"),  # nobody's
        mention(12, later, "neutral", incident=named.pk),  # the named incident's
    ]
    with CaptureQueriesContext(connection) as queries:
        answer = post(key_client, batch, later)
    assert sorted(answer.data["incidents"]) == sorted([wave_id, named.pk])
    counted = dict(
        Mention.all_brands.filter(brand=acme, received_at=later).values_list("external_id", "wave_counted_at")
    )
    assert counted == {"post-10": later, "post-11": None, "post-12": later}
    # Marked in the INSERT itself: no UPDATE rewrites the rows just stored.
    assert not [q for q in queries.captured_queries if q["sql"].startswith('UPDATE "crisis_mention"')]
