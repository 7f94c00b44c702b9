"""A wave's incident is titled in its brand's language, whatever language the tool's request asked for."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents.models import Incident

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def negatives(count: int) -> list[dict]:
    return [
        {
            "external_id": f"post-{i}",
            "platform": "vk",
            "url": f"https://vk.com/wall-1_{i}",
            "author": f"user{i}",
            "author_followers": 150,
            "text": f"Cold coffee again {i}",
            "sentiment": "negative",
            "reach": 500,
            "published_at": (T0 + timedelta(seconds=20 * i)).isoformat(),
        }
        for i in range(count)
    ]


@pytest.mark.parametrize(
    "brand_language,request_language,title",
    [
        ("ru", "en", "Волна негативных упоминаний: 12 за 10 мин"),
        ("en", "ru", "Wave of negative mentions: 12 in 10 min"),
    ],
)
def test_the_wave_title_is_in_the_brand_s_language(acme, key_client, brand_language, request_language, title):
    acme.language = brand_language
    acme.save()
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        response = key_client.post(
            "/api/v1/mentions/", negatives(12), format="json", HTTP_ACCEPT_LANGUAGE=request_language
        )
    assert response.status_code == 202, response.data
    assert Incident.all_brands.get(brand=acme).title == title


def test_the_wave_s_severity_rises_with_it_and_its_title_follows_its_count(acme, alice, key_client):
    """README, "A wave's automatic severity": raised only, and never over a person's decision."""
    from crisis.tenancy import Principal
    from incidents import command
    from incidents.models import TimelineEvent

    batch = negatives(60)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        assert key_client.post("/api/v1/mentions/", batch[:12], format="json").status_code == 202
    wave = Incident.all_brands.get(brand=acme)
    assert (wave.severity, wave.title) == ("medium", "Wave of negative mentions: 12 in 10 min")

    with time_machine.travel(T0 + timedelta(minutes=15), tick=False):
        assert key_client.post("/api/v1/mentions/", batch[12:25], format="json").status_code == 202
    wave.refresh_from_db()
    # 25 negatives: high (2 × min_count); the span is now 480 s, inside the 10-minute window.
    assert (wave.severity, wave.title) == ("high", "Wave of negative mentions: 20+ in 10 min")
    assert wave.ack_due_at == wave.detected_at + timedelta(seconds=900)  # re-timed: high's 15 min

    # A manager lowers it by hand: the wave's growth no longer touches the severity.
    with time_machine.travel(T0 + timedelta(minutes=16), tick=False):
        command.incident_severity_change(
            incident_id=wave.pk,
            principal=Principal.for_user(alice),
            severity="low",
            reason="Bots, not people.",
        )
    with time_machine.travel(T0 + timedelta(minutes=25), tick=False):
        assert key_client.post("/api/v1/mentions/", batch[25:], format="json").status_code == 202
    wave.refresh_from_db()
    assert wave.severity == "low"
    assert wave.title == "Wave of negative mentions: 50+ in 20 min"  # 1,180 s from the first to the last
    changes = TimelineEvent.all_brands.filter(incident=wave, kind="severity_changed").order_by("pk")
    assert [(e.data["from"], e.data["to"], e.actor_label) for e in changes] == [
        ("medium", "high", "system"),
        ("high", "low", "alice"),
    ]
