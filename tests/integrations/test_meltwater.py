"""Meltwater's data streams: a batch envelope per POST, answered 200, stored as POST /api/v1/mentions/."""

import json
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


# Each kind of value the typed reading can refuse, with the answer it gives: a new msgspec
# that words its problems otherwise fails here, not in front of a sender.
@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (lambda b: b.update(documents=None), "documents", "This field is required."),
        (lambda b: b.pop("documents"), "documents", "This field is required."),
        (lambda b: b.update(documents="all"), "documents", "Expected a list."),
        (lambda b: b["documents"].__setitem__(1, "doc"), "documents[1]", "Expected an object."),
        (lambda b: b["documents"][0].update(author=["x"]), "documents[0].author", "Expected an object."),
        (
            lambda b: b["documents"][0]["author"].update(name=7),
            "documents[0].author.name",
            "Expected a string.",
        ),
        (
            lambda b: b["documents"][0].update(id=True),
            "documents[0].id",
            "Expected a string or a whole number.",
        ),
        (lambda b: b["documents"][0].update(id=""), "documents[0].id", "This field is required."),
        (lambda b: b["documents"][0].pop("id"), "documents[0].id", "This field is required."),
        (
            lambda b: b["documents"][0].update(id="a\x00b"),
            "documents[0].id",
            "Null characters are not allowed.",
        ),
        (
            lambda b: b["documents"][0]["metrics"].update(reach=-1),
            "documents[0].metrics.reach",
            "Expected a whole number from 0 to 10^15.",
        ),
        (
            lambda b: b["documents"][0]["metrics"].update(reach=10**16),
            "documents[0].metrics.reach",
            "Expected a whole number from 0 to 10^15.",
        ),
        (
            lambda b: b["documents"][0]["metrics"].update(reach=2.5),
            "documents[0].metrics.reach",
            "Expected a whole number.",
        ),
        (
            lambda b: b["documents"][0]["author"].update(followers=False),
            "documents[0].author.followers",
            "Expected a whole number.",
        ),
    ],
)
def test_a_value_of_the_wrong_kind_is_named_in_the_senders_words(acme_key, payload, change, path, message):
    batch = payload("meltwater_batch")
    change(batch)
    response = send(URL, batch, key=acme_key.plain)

    assert response.status_code == 400, response.content
    assert response.json() == {path: [message]}
    assert not Mention.objects.for_brands([acme_key.brand_id]).exists()


def test_a_problem_is_named_in_russian_for_a_russian_sender(acme_key, payload):
    batch = payload("meltwater_batch")
    batch["documents"][0]["author"]["name"] = 7
    response = send(URL, batch, key=acme_key.plain, HTTP_ACCEPT_LANGUAGE="ru")

    assert response.json() == {"documents[0].author.name": ["Ожидалась строка."]}


def test_the_leniences_of_the_documentation_hold(acme_key, payload):
    """Numbers as JSON encoders write them (3.0, "12"), nulls for absent objects, numeric ids."""
    batch = payload("meltwater_batch")
    tweet = batch["documents"][0]
    tweet["author"]["followers"] = 12000.0
    tweet["metrics"]["reach"] = "12000"
    batch["documents"][1].update(id=1713459779000, source=None, author=None, enrichments=None, metrics=None)
    response = send(URL, batch, key=acme_key.plain)

    assert response.status_code == 200, response.content
    mentions = stored(acme_key)
    assert (mentions["1781005504061268063"].author_followers, mentions["1781005504061268063"].reach) == (
        12000,
        12000,
    )
    numeric = mentions["meltwater:mention:1713459779000"]
    assert (numeric.platform, numeric.author, numeric.reach, numeric.sentiment) == ("other", "", 0, "neutral")


def test_what_msgspec_cannot_decode_is_read_by_the_standard_library_alike(acme_key, payload):
    """A lone surrogate (kept as U+FFFD, as every free text) and NUL in a text; NaN refused by the shape."""
    batch = payload("meltwater_batch")
    raw = json.dumps(batch).replace("served me a cold latte", "served me a \\ud800 cold \\u0000latte")
    response = send(URL, None, key=acme_key.plain, raw=raw.encode())

    assert response.status_code == 200, response.content
    assert stored(acme_key)["1781005504061268063"].text.startswith(
        "Acme Coffee served me a \ufffd cold latte"
    )

    nan = json.dumps(payload("meltwater_batch")).replace('"reach": 12000', '"reach": NaN', 1)
    assert '"reach": NaN' in nan
    response = send(URL, None, key=acme_key.plain, raw=nan.encode())
    assert response.status_code == 400
    assert list(response.json()) == ["documents[0].metrics.reach"]
