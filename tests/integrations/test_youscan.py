"""YouScan's webhook: one mention per POST, stored and detected as POST /api/v1/mentions/."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from crisis.models import BrandKey, DetectionPolicy, Mention
from incidents.models import Incident, WaveMention

from .conftest import AUTH_FORMS, send

URL = "/api/v1/integrations/youscan/"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.parametrize("form", AUTH_FORMS)
def test_a_mention_in_youscans_shape_is_stored_through_every_auth_form(acme_key, payload, form):
    response = send(URL, payload("youscan_mention"), key=acme_key.plain, form=form)

    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 1, "duplicates": 0, "incidents": []}
    mention = Mention.objects.for_brands([acme_key.brand_id]).get()
    assert mention.platform == "vk"
    assert mention.external_id == "-20553_7781"  # the platform's own post id
    assert (
        mention.text
        == "Третий раз подряд в Acme Coffee холодный капучино и хамство на кассе. Больше ни ногой."
    )
    assert mention.author == "Мария Котова"
    assert mention.author_followers == 184000
    assert mention.sentiment == "negative"
    assert mention.reach == 275000
    assert mention.url == "https://vk.com/wall-20553_7781"
    assert mention.published_at == datetime(2026, 11, 20, 9, 41, 3, tzinfo=UTC)


def test_a_restricted_mention_without_text_url_or_author_and_an_undefined_sentiment_is_kept(
    acme_key, payload
):
    response = send(URL, payload("youscan_restricted"), key=acme_key.plain)

    assert response.status_code == 200, response.content
    mention = Mention.objects.for_brands([acme_key.brand_id]).get()
    assert (mention.platform, mention.text, mention.url, mention.author) == ("x", "", "", "")
    assert mention.sentiment == "neutral"
    # No post id from the platform: YouScan's own id, under its name.
    assert mention.external_id == "youscan:mention:241032999"


def test_a_mention_without_sentiment_is_neutral_and_an_unknown_source_is_other(acme_key, payload):
    doc = payload("youscan_mention")
    del doc["sentiment"]
    doc.update(
        sourceName="somecoffeeblog.example", url="https://somecoffeeblog.example/p/1", resourceType="blog"
    )
    response = send(URL, doc, key=acme_key.plain)

    assert response.status_code == 200, response.content
    mention = Mention.objects.for_brands([acme_key.brand_id]).get()
    assert (mention.platform, mention.sentiment) == ("other", "neutral")
    # The place is unknown, so its post id could clash with another place's: prefixed.
    assert mention.external_id == "youscan:-20553_7781"


def test_the_same_mention_again_is_a_duplicate(acme_key, payload):
    send(URL, payload("youscan_mention"), key=acme_key.plain)
    response = send(URL, payload("youscan_mention"), key=acme_key.plain)

    assert response.json() == {"accepted": 0, "duplicates": 1, "incidents": []}
    assert Mention.objects.for_brands([acme_key.brand_id]).count() == 1


def test_a_negative_wave_opens_one_incident_and_every_negative_attaches(acme_key, payload):
    DetectionPolicy.objects.create(brand=acme_key.brand, min_count=5, ratio=1.0)
    answers = []
    for i in range(8):
        doc = payload("youscan_mention")
        doc.update(
            mentionId=1000 + i, postId=f"-20553_{i}", published=(NOW - timedelta(minutes=8 - i)).isoformat()
        )
        doc["author"]["subscribers"] = 10
        answers.append(send(URL, doc, key=acme_key.plain).json())

    incidents = Incident.objects.for_brands([acme_key.brand_id])
    assert incidents.count() == 1
    wave = incidents.get()
    assert answers[-1]["incidents"] == [wave.pk]
    assert WaveMention.objects.for_brands([acme_key.brand_id]).filter(incident=wave).count() == 8


@pytest.mark.parametrize("form", AUTH_FORMS)
def test_a_wrong_or_revoked_key_is_401_and_stores_nothing(acme_key, payload, form):
    wrong = send(URL, payload("youscan_mention"), key=acme_key.prefix + ".not-the-secret", form=form)
    BrandKey.objects.for_brands([acme_key.brand_id]).filter(pk=acme_key.pk).update(revoked_at=NOW)
    revoked = send(URL, payload("youscan_mention"), key=acme_key.plain, form=form)

    assert (wrong.status_code, revoked.status_code) == (401, 401)
    assert Mention.objects.for_brands([acme_key.brand_id]).count() == 0


def test_no_key_is_a_401_with_a_basic_challenge(acme, payload):
    response = send(URL, payload("youscan_mention"), key=None)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic ")
