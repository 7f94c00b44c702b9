"""
Text hygiene on the API (API.md, "Conventions"; the rule is `api/text.py`): NUL and lone
UTF-16 surrogates are a 400 in identifiers, choices, slugs, keys, usernames, field names
and query strings, and in free text a lone surrogate becomes U+FFFD and NUL is dropped.
Whatever is refused, the answer is valid UTF-8 JSON that does not echo it.
"""

import json

import pytest

from crisis.models import Mention
from incidents.models import Incident, TimelineEvent
from playbooks.models import Playbook, ResponseTemplate

BROKEN_EMOJI = "\ud83d"  # the first half of 😀, the second lost by a truncating client


def post(client, path, body):
    # json.dumps writes a lone surrogate as the escape \ud83d, as such clients send it.
    return client.post(path, json.dumps(body), content_type="application/json")


def answer(response) -> dict | list:
    """The answer's JSON, read from its bytes: it must be UTF-8 and hold no NUL or surrogate."""
    text = response.content.decode("utf-8")
    assert "\\u0000" not in text and "\\ud8" not in text.lower()
    return json.loads(text)


@pytest.mark.parametrize("field", ["severity", "category", "channel"])
@pytest.mark.parametrize("value", ["\ud800", "high\x00", BROKEN_EMOJI])
def test_a_choice_holding_nul_or_a_lone_surrogate_is_a_400_naming_it(api, bob, field, value):
    response = post(api(bob), "/api/v1/incidents/", {"brand": "acme", "title": "t", field: value})
    assert response.status_code == 400
    assert list(answer(response)) == [field]
    assert not Incident.all_brands.exists()


@pytest.mark.parametrize("name", ["\ud800", "title\x00", "sev\udfffity"])
def test_a_field_named_by_nul_or_a_lone_surrogate_is_a_400_that_does_not_echo_it(api, bob, name):
    response = post(api(bob), "/api/v1/incidents/", {"brand": "acme", "title": "t", name: "x"})
    assert response.status_code == 400
    assert answer(response)["code"] == "parse_error"
    assert not Incident.all_brands.exists()


def test_a_key_deep_inside_the_body_is_checked_too(api, alice, bob, file_incident, incident_in):
    incident = incident_in(file_incident(), "resolved", manager=alice, responder=bob)
    body = {"summary": "s", "root_cause": "r", "lessons": "l", "follow_ups": [{"title": "t", "\ud800": 1}]}
    response = post(api(alice), f"/api/v1/incidents/{incident.pk}/review/", body)
    assert response.status_code == 400
    answer(response)
    assert Incident.all_brands.get(pk=incident.pk).state == "resolved"


def test_placeholder_names_holding_a_lone_surrogate_are_a_400(api, bob, alice, file_incident):
    incident = file_incident()
    template = ResponseTemplate.all_brands.filter(brand=None, language="en").first()
    client = api(bob)
    response = post(
        client,
        f"/api/v1/response-templates/{template.pk}/render/",
        {"incident": incident.pk, "values": {"\ud800": "x", "customer_name": "Olga"}},
    )
    assert response.status_code == 400
    answer(response)
    response = post(
        api(alice),
        "/api/v1/response-templates/",
        {"brand": "acme", "name": "n", "category": "other", "language": "en", "body": "Hi {na\ud800me}"},
    )
    assert response.status_code == 400
    assert list(answer(response)) == ["body"]


@pytest.mark.parametrize("path", ["/api/v1/playbooks/", "/api/v1/response-templates/"])
@pytest.mark.parametrize("slug", ["\x00", "acme\x00", "\ud800"])
def test_a_brand_slug_holding_nul_or_a_surrogate_is_a_400_naming_it(api, alice, path, slug):
    body = {"brand": slug, "name": "n", "category": "other", "language": "en"}
    body |= {"steps": []} if "playbooks" in path else {"body": "Hello"}
    response = post(api(alice), path, body)
    assert response.status_code == 400
    assert list(answer(response)) == ["brand"]
    assert not Playbook.all_brands.filter(name="n").exists()
    assert not ResponseTemplate.all_brands.filter(name="n").exists()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/incidents/", {"brand": "acme", "title": "t", "dedup_key": "k\x00"}, "dedup_key"),
        ("/api/v1/incidents/", {"brand": "ac\ud800me", "title": "t"}, "brand"),
        ("/api/v1/auth/token/", {"username": "bob\x00", "password": "x-bob"}, "username"),
        ("/api/v1/auth/token/", {"username": "b\ud800ob", "password": "x-bob"}, "username"),
        ("/api/v1/brands/acme/members/", {"username": "dave\x00", "role": "manager"}, "username"),
        ("/api/v1/brands/acme/keys/", {"name": "tool\x00"}, "name"),
    ],
)
def test_identifiers_holding_nul_or_a_surrogate_are_a_400_naming_them(api, alice, dave, path, body, field):
    client = api(alice) if "auth" not in path else api(None)
    response = post(client, path, body)
    assert response.status_code == 400
    assert field in answer(response)
    assert not Incident.all_brands.exists()


def test_free_text_keeps_a_broken_emoji_as_a_replacement_and_drops_nul(api, bob, alice):
    client = api(bob)
    response = post(
        client,
        "/api/v1/incidents/",
        {"brand": "acme", "title": f"Angry {BROKEN_EMOJI}\x00", "description": "cold\x00 coffee \udc00"},
    )
    assert response.status_code == 201, response.content
    incident = Incident.all_brands.get()
    assert (incident.title, incident.description) == ("Angry \ufffd", "cold coffee \ufffd")
    assert answer(response)["title"] == "Angry \ufffd"
    comment = post(client, f"/api/v1/incidents/{incident.pk}/comments/", {"body": "on it \ud83d\x00"})
    assert comment.status_code == 201, comment.content
    assert (
        TimelineEvent.all_brands.filter(incident=incident, kind="comment").get().data["body"]
        == "on it \ufffd"
    )


def test_free_text_that_is_only_nul_is_blank(api, bob):
    response = post(api(bob), "/api/v1/incidents/", {"brand": "acme", "title": "\x00\x00"})
    assert response.status_code == 400
    assert list(answer(response)) == ["title"]


def mention(i, **extra):
    return {
        "external_id": f"post-{i}",
        "platform": "vk",
        "author": "user",
        "text": "Third time my order is late.",
        "sentiment": "negative",
        "published_at": "2026-01-01T10:00:00Z",
        **extra,
    }


def test_one_broken_emoji_never_loses_a_batch_of_mentions(key_client):
    batch = [mention(i) for i in range(5)]
    batch[2] = mention(2, text=f"so angry {BROKEN_EMOJI}\x00!", author="\udc00anna")
    response = post(key_client, "/api/v1/mentions/", batch)
    assert response.status_code == 202, response.content
    assert answer(response)["accepted"] == 5
    stored = Mention.all_brands.get(external_id="post-2")
    assert (stored.text, stored.author) == ("so angry \ufffd!", "\ufffdanna")


def test_a_mention_whose_identifier_holds_a_surrogate_is_a_400_naming_it(key_client):
    batch = [mention(1), mention(2, external_id="post-\ud800")]
    response = post(key_client, "/api/v1/mentions/", batch)
    assert response.status_code == 400
    assert answer(response) == {"1": {"external_id": ["Surrogate characters are not allowed: U+D800."]}}
    assert not Mention.all_brands.exists()


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("state=%00", "state"),
        ("q=cold%00coffee", "q"),
        ("assignee=bob%00", "assignee"),
        ("brand=%00&severity=low", "brand"),
    ],
)
def test_nul_in_a_query_string_is_a_400_naming_the_parameter(api, bob, file_incident, query, named):
    file_incident()
    response = api(bob).get(f"/api/v1/incidents/?{query}")
    assert response.status_code == 400
    assert answer(response) == {named: ["Null characters are not allowed."]}
