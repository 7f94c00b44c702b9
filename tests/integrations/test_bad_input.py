"""
Bad input to every key-authenticated adapter: truncated JSON, wrong types, oversized
batches and texts. Each is a 4xx naming the problem, stores nothing, and is never a 500.
"""

import json

import pytest
import time_machine

from crisis.models import Mention
from incidents.models import Incident

from .conftest import send

ADAPTERS = {
    # tool: (URL, fixture)
    "youscan": ("/api/v1/integrations/youscan/", "youscan_mention"),
    "meltwater": ("/api/v1/integrations/meltwater/", "meltwater_batch"),
    "alertmanager": ("/api/v1/integrations/alertmanager/", "alertmanager_group"),
    "grafana": ("/api/v1/integrations/grafana/", "grafana_group"),
}


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel("2026-11-20T10:00:00Z", tick=False):
        yield


@pytest.fixture(params=list(ADAPTERS))
def adapter(request):
    return request.param


def nothing_stored(key):
    return (
        not Mention.objects.for_brands([key.brand_id]).exists()
        and not Incident.objects.for_brands([key.brand_id]).exists()
    )


def test_truncated_json_is_a_400_naming_the_parse_error(acme_key, payload, adapter):
    url, fixture = ADAPTERS[adapter]
    raw = json.dumps(payload(fixture)).encode()[:-7]
    response = send(url, None, key=acme_key.plain, raw=raw)

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert nothing_stored(acme_key)


@pytest.mark.parametrize("raw", [b"", b"[]", b"null", b"42", b'"text"', b"\xff\xfe", b"[" * 100_000], ids=str)
def test_a_body_that_is_not_the_tools_shape_is_a_4xx(acme_key, adapter, raw):
    url, _fixture = ADAPTERS[adapter]
    response = send(url, None, key=acme_key.plain, raw=raw)

    assert 400 <= response.status_code < 500
    assert response.json()
    assert nothing_stored(acme_key)


WRONG_TYPES = {
    "youscan": [
        (lambda d: d.update(mentionId={"id": 1}), "mentionId"),
        (lambda d: d.update(published="last tuesday"), "published"),
        (lambda d: d.pop("published"), "published"),
        (lambda d: d.update(author="Мария"), "author"),
        (lambda d: d["author"].update(subscribers="many"), "author.subscribers"),
        (lambda d: d.update(text=["a", "b"]), "text"),
        (lambda d: d.update(potentialReach=-5), "potentialReach"),
        (lambda d: d.update(postId="x" * 300), "postId"),
    ],
    "meltwater": [
        (lambda d: d.update(documents={"a": 1}), "documents"),
        (lambda d: d["documents"][1].update(published_date=1700000000), "documents[1].published_date"),
        (lambda d: d["documents"][2].update(content="text"), "documents[2].content"),
        (lambda d: d["documents"][0]["metrics"].update(reach="a lot"), "documents[0].metrics.reach"),
        (lambda d: d["documents"][0].pop("id"), "documents[0].id"),
    ],
    "alertmanager": [
        (lambda d: d.update(alerts="all of them"), "alerts"),
        (lambda d: d["alerts"][1].update(startsAt="soon"), "alerts[1].startsAt"),
        (lambda d: d["alerts"][0].update(labels=["a"]), "alerts[0].labels"),
        (lambda d: d["alerts"][2].update(status="pending"), "alerts[2].status"),
        (lambda d: d["alerts"][2]["labels"].pop("alertname"), "alerts[2].annotations.summary"),
    ],
    "grafana": [
        (
            lambda d: d["alerts"][0].update(annotations={"summary": {"nested": True}}),
            "alerts[0].annotations.summary",
        ),
        (lambda d: d["alerts"][1].update(fingerprint=3.5), "alerts[1].fingerprint"),
        (lambda d: d["alerts"][0].update(startsAt="1999-12-31T23:59:59Z"), "alerts[0].startsAt"),
    ],
}


@pytest.mark.parametrize(
    ("tool", "case"),
    [(tool, i) for tool, cases in WRONG_TYPES.items() for i in range(len(cases))],
    ids=lambda v: str(v),
)
def test_a_wrong_type_is_a_400_naming_the_senders_field(acme_key, payload, tool, case):
    url, fixture = ADAPTERS[tool]
    change, field = WRONG_TYPES[tool][case]
    body = payload(fixture)
    change(body)
    response = send(url, body, key=acme_key.plain)

    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert nothing_stored(acme_key)


def test_a_batch_of_10000_is_refused_whole(acme_key, payload, adapter):
    url, fixture = ADAPTERS[adapter]
    body = payload(fixture)
    if adapter == "youscan":  # one mention per POST: a list of them is no YouScan mention
        body = [body] * 10_000
    elif adapter == "meltwater":
        body["documents"] = [{**body["documents"][1], "id": f"doc-{i}"} for i in range(10_000)]
    else:
        body["alerts"] = [{**body["alerts"][0], "fingerprint": f"{i:016x}"} for i in range(10_000)]
    response = send(url, body, key=acme_key.plain)

    assert 400 <= response.status_code < 500
    assert response.json()
    assert nothing_stored(acme_key)


def test_a_1_mb_text_is_a_4xx_naming_it(acme_key, payload, adapter):
    url, fixture = ADAPTERS[adapter]
    body = payload(fixture)
    huge = "Холодный кофе. " * 70_000  # ~1 MB
    field = {
        "youscan": ("text",),
        "meltwater": ("documents[0].content.opening_text",),
        "alertmanager": ("alerts[0].annotations.description",),
        "grafana": ("alerts[0].annotations.description",),
    }[adapter]
    if adapter == "youscan":
        body["text"] = huge
    elif adapter == "meltwater":
        body["documents"][0]["content"]["opening_text"] = huge
    else:
        body["alerts"][0]["annotations"]["description"] = huge
    response = send(url, body, key=acme_key.plain)

    assert 400 <= response.status_code < 500
    if response.status_code == 400:
        assert set(field) <= set(response.json()), response.json()
    else:
        assert "larger than" in response.json()["detail"]
    assert nothing_stored(acme_key)


def test_nul_and_lone_surrogates_in_free_text_are_cleaned_not_refused(acme_key, payload):
    body = payload("alertmanager_group")
    body["alerts"][0]["annotations"]["summary"] = "Spike \x00on VK \ud83d"
    body["alerts"][0]["labels"]["note"] = "\ud800"
    response = send(
        "/api/v1/integrations/alertmanager/", None, key=acme_key.plain, raw=json.dumps(body).encode()
    )

    assert response.status_code == 200, response.content
    incident = Incident.objects.for_brands([acme_key.brand_id]).get(dedup_key="am:1a30ba71cca2921f")
    assert incident.title == "Spike on VK \ufffd"
    assert incident.source_details["labels"]["note"] == "\ufffd"


@pytest.mark.parametrize("form", ["api-key", "basic", "path"])
def test_a_wrong_or_revoked_key_is_401_for_every_adapter_and_stores_nothing(acme_key, payload, adapter, form):
    from crisis.models import BrandKey

    url, fixture = ADAPTERS[adapter]
    wrong = send(url, payload(fixture), key=f"{acme_key.prefix}.wrong-secret", form=form)
    BrandKey.objects.for_brands([acme_key.brand_id]).filter(pk=acme_key.pk).update(
        revoked_at="2026-11-20T09:00:00Z"
    )
    revoked = send(url, payload(fixture), key=acme_key.plain, form=form)

    assert (wrong.status_code, revoked.status_code) == (401, 401)
    assert nothing_stored(acme_key)
