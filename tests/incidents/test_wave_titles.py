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
