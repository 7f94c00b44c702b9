"""No input of any shape gives a 500, and a rejected request leaves nothing behind."""

import json

import pytest

from incidents.models import IdempotencyRecord, Incident, TimelineEvent

TEN_MB = "x" * (10 * 1024 * 1024)

BAD_BODIES = {
    "title missing": {"brand": "acme"},
    "title wrong type": {"brand": "acme", "title": {"a": 1}},
    "title list": {"brand": "acme", "title": ["a"]},
    "title null": {"brand": "acme", "title": None},
    "title too long": {"brand": "acme", "title": "t" * 201},
    "title 10 MB": {"brand": "acme", "title": TEN_MB},
    "description 10 MB": {"brand": "acme", "title": "t", "description": TEN_MB},
    # In free text such as the title, NUL is dropped and a lone surrogate replaced
    # (tests/api/test_text_hygiene.py); in what names things they are refused.
    "dedup key with NUL": {"brand": "acme", "title": "t", "dedup_key": "bad\x00key"},
    "severity with a lone surrogate": {"brand": "acme", "title": "t", "severity": "bad\ud800"},
    "unknown severity": {"brand": "acme", "title": "t", "severity": "apocalyptic"},
    "unknown category": {"brand": "acme", "title": "t", "category": "aliens"},
    "unknown channel": {"brand": "acme", "title": "t", "channel": "myspace"},
    "severity wrong type": {"brand": "acme", "title": "t", "severity": 3},
    "negative reach": {"brand": "acme", "title": "t", "reach": -1},
    "huge reach": {"brand": "acme", "title": "t", "reach": 10**30},
    "reach as text": {"brand": "acme", "title": "t", "reach": "lots"},
    "reach as float": {"brand": "acme", "title": "t", "reach": 1.5},
    "bad url": {"brand": "acme", "title": "t", "source_url": "not a url"},
    "javascript url": {"brand": "acme", "title": "t", "source_url": "javascript:alert(1)"},
    "dedup key too long": {"brand": "acme", "title": "t", "dedup_key": "k" * 256},
    "detected_at in the future": {"brand": "acme", "title": "t", "detected_at": "2999-01-01T00:00:00Z"},
    "detected_at year 1": {"brand": "acme", "title": "t", "detected_at": "0001-01-01T00:00:00Z"},
    "detected_at year 1 with offset": {
        "brand": "acme",
        "title": "t",
        "detected_at": "0001-01-01T00:00:00+05:00",
    },
    "detected_at garbage": {"brand": "acme", "title": "t", "detected_at": "yesterday"},
    "detected_at number": {"brand": "acme", "title": "t", "detected_at": 1700000000},
    "missing brand": {"title": "t"},
    "unknown brand": {"brand": "nope", "title": "t"},
    "brand wrong type": {"brand": ["acme"], "title": "t"},
    "brand of someone else": {"brand": "globex", "title": "t"},
    "unknown field": {"brand": "acme", "title": "t", "severty": "high"},
    "state smuggled in": {"brand": "acme", "title": "t", "state": "resolved"},
    "body is a list": [{"brand": "acme", "title": "t"}],
    "body is a string": "hello",
    "body is a number": 42,
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_bad_incident_bodies_are_400(name, api, bob, globex):
    response = api(bob).post(
        "/api/v1/incidents/",
        json.dumps(BAD_BODIES[name]),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=f"k-{name}",
    )
    expected = 413 if "10 MB" in name else 400
    assert response.status_code == expected, (name, response.content[:300])
    assert isinstance(response.json(), dict)
    assert Incident.all_brands.count() == 0
    assert TimelineEvent.all_brands.count() == 0
    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"{'single': 'quotes'}",
        b"\xff\xfe\xfd",
        b'{"title": "t",}',
        b"null",
        b"",
        b'{"title": "\\ud800"}',
        b"[" * 10000 + b"]" * 10000,
    ],
)
def test_malformed_json_is_400(raw, api, bob):
    response = api(bob).post("/api/v1/incidents/", raw, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert Incident.all_brands.count() == 0


def test_wrong_content_type_is_415(api, bob):
    response = api(bob).post("/api/v1/incidents/", b"<xml/>", content_type="application/xml")
    assert response.status_code == 415


@pytest.mark.parametrize(
    "path,body",
    [
        ("resolve/", {"resolution": ["list"]}),
        ("resolve/", {"resolution": "r" * 20001}),
        ("review/", {"summary": "s", "root_cause": "r", "lessons": "l", "follow_ups": "not a list"}),
        ("review/", {"summary": "s", "root_cause": "r", "lessons": "l", "follow_ups": [{"x": 1}]}),
        (
            "review/",
            {
                "summary": "s",
                "root_cause": "r",
                "lessons": "l",
                "follow_ups": [{"title": "t", "due_date": "tomorrow"}],
            },
        ),
        ("reopen/", {"reason": None}),
        ("reassign/", {"assignee": {"username": "dave"}}),
        ("comments/", {"body": ""}),
        ("comments/", {"body": "b" * 20001}),
    ],
)
def test_bad_action_bodies_are_400(path, body, api, alice, bob, file_incident, incident_in):
    incident = incident_in(file_incident(), "resolved", manager=alice, responder=bob)
    events = TimelineEvent.all_brands.count()
    response = api(alice).post(f"/api/v1/incidents/{incident.pk}/{path}", body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert TimelineEvent.all_brands.count() == events
    assert Incident.all_brands.get(pk=incident.pk).state == "resolved"


@pytest.mark.parametrize(
    "query",
    [
        "state=bogus",
        "state=detected,bogus",
        "severity=apocalyptic",
        "category=aliens",
        "breached=maybe",
        "ordering=title",
        "ordering=-password",
        "page_size=abc",
        "page=abc",
        "page=999",
        "assignee=" + "x" * 500,
        "q=" + "y" * 500,
        "brand=%00",
    ],
)
def test_bad_list_queries_are_4xx(query, api, bob, file_incident):
    file_incident()
    response = api(bob).get(f"/api/v1/incidents/?{query}")
    assert 400 <= response.status_code < 500, response.content


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/incidents/abc/",
        "/api/v1/incidents/99999999999999999999999/",
        "/api/v1/incidents/-1/claim/",
        "/api/v1/brands/no-such-brand/",
        "/api/v1/brands/%00/sla/",
    ],
)
def test_bad_paths_are_404(path, api, bob):
    assert api(bob).get(path).status_code == 404


@pytest.mark.parametrize(
    "header",
    [
        "Token",
        "Token a b",
        "Token \xff\xfe",
        "Token " + "z" * 5000,
        "Api-Key",
        "Api-Key nope",
        "Api-Key \xff",
        "Bearer x",
        "Basic !!!",
    ],
)
def test_garbage_credentials_are_401(header, file_incident):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/incidents/")
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"] == "Token"  # what makes it a 401 and not a 403
