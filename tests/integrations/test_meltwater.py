"""Meltwater's data streams: a batch envelope per POST, answered 200, stored as POST /api/v1/mentions/."""

from datetime import UTC, datetime

import pytest
import time_machine

from crisis.models import Mention

from .conftest import AUTH_FORMS, send

URL = "/api/v1/integrations/meltwater/"


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(datetime(2026, 11, 20, 10, 0, tzinfo=UTC), tick=False):
        yield


def stored(key):
    return {m.external_id: m for m in Mention.objects.for_brands([key.brand_id])}


@pytest.mark.parametrize("form", AUTH_FORMS)
def test_a_batch_in_meltwaters_shape_is_stored_and_answered_200(acme_key, payload, form):
    response = send(URL, payload("meltwater_batch"), key=acme_key.plain, form=form)

    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 3, "duplicates": 0, "incidents": []}
    mentions = stored(acme_key)
    tweet = mentions["1781005504061268063"]  # the platform's own id
    assert (tweet.platform, tweet.author, tweet.author_followers, tweet.sentiment, tweet.reach) == (
        "x",
        "Coffee Critic",
        12000,
        "negative",
        12000,
    )
    assert tweet.text == "Acme Coffee served me a cold latte again. Done with them."
    news = mentions["meltwater:mention:1713459779000_Nw1"]
    assert (news.platform, news.sentiment, news.reach) == ("media", "neutral", 900000)
    assert news.text == "Acme Coffee closes three shops\n\nThe chain said on Thursday..."
    forum = mentions["meltwater:mention:1713459780000_Q2"]
    assert (forum.platform, forum.sentiment) == ("forum", "neutral")  # "not_rated" is neutral


def test_the_same_post_from_youscan_and_meltwater_is_one_mention(acme_key, payload):
    batch = payload("meltwater_batch")
    youscan = payload("youscan_mention")
    youscan.update(
        sourceName="twitter.com", url="https://twitter.com/coffee_critic/status/1781005504061268063"
    )
    youscan["postId"] = "1781005504061268063"
    send(URL, batch, key=acme_key.plain)
    answer = send("/api/v1/integrations/youscan/", youscan, key=acme_key.plain).json()

    assert answer == {"accepted": 0, "duplicates": 1, "incidents": []}
    assert Mention.objects.for_brands([acme_key.brand_id]).filter(platform="x").count() == 1


def test_a_resent_batch_is_all_duplicates(acme_key, payload):
    send(URL, payload("meltwater_batch"), key=acme_key.plain)
    response = send(URL, payload("meltwater_batch"), key=acme_key.plain)

    assert (response.status_code, response.json()) == (200, {"accepted": 0, "duplicates": 3, "incidents": []})


def test_an_empty_batch_is_200_and_stores_nothing(acme_key):
    response = send(URL, {"request": {"hook_id": "h"}, "documents": []}, key=acme_key.plain)

    assert (response.status_code, response.json()) == (200, {"accepted": 0, "duplicates": 0, "incidents": []})


def test_one_bad_document_refuses_the_batch_naming_it(acme_key, payload):
    batch = payload("meltwater_batch")
    batch["documents"][2]["published_date"] = "2099-01-01T00:00:00Z"
    response = send(URL, batch, key=acme_key.plain)

    assert response.status_code == 400
    assert list(response.json()) == ["documents[2].published_date"]
    assert not Mention.objects.for_brands([acme_key.brand_id]).exists()


def test_unknown_fields_and_query_parameters_are_ignored(acme_key, payload):
    batch = payload("meltwater_batch")
    batch["documents"][0]["brand_new_field"] = {"anything": [1, 2]}
    batch["schema_version"] = 7
    response = send(f"{URL}?source=stream&x=1".replace(URL, URL), batch, key=acme_key.plain)

    assert response.status_code == 200, response.content
