"""Keys in every form the adapters take; a key in a path never reaches a log or an error report."""

import logging
import sys

import pytest
from django.conf import settings
from django.views.debug import ExceptionReporter
from rest_framework.test import APIClient

from crisis.models import BrandKey
from integrations.inbound import youscan

from .conftest import send

URL = "/api/v1/integrations/youscan/"


def test_the_path_key_middleware_comes_first():
    assert settings.MIDDLEWARE[0] == "integrations.inbound.credentials.KeyInPathMiddleware"


def test_a_routing_key_is_32_hex_digits_and_finds_its_key(acme_key):
    routing_key = acme_key.routing_key()

    assert len(routing_key) == 32 and int(routing_key, 16) >= 0
    assert BrandKey.from_routing_key(routing_key) == acme_key
    assert BrandKey.from_routing_key(routing_key.upper()) == acme_key
    # One wrong digit of the MAC, another key's prefix, or garbage: nothing.
    wrong = routing_key[:-1] + ("0" if routing_key[-1] != "0" else "1")
    assert BrandKey.from_routing_key(wrong) is None
    assert BrandKey.from_routing_key("zz" * 16) is None
    assert BrandKey.from_routing_key(None) is None


def test_a_routing_key_outlives_a_rotated_secret_through_the_fallbacks(acme_key, settings):
    routing_key = acme_key.routing_key()
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-0123456789-abcdefghijklmnopqrstuvwxyz"

    assert BrandKey.from_routing_key(routing_key) == acme_key
    settings.SECRET_KEY_FALLBACKS = []
    assert BrandKey.from_routing_key(routing_key) is None


def test_issuing_a_key_shows_its_routing_key_once(alice, acme, api):
    issued = api(alice).post(f"/api/v1/brands/{acme.slug}/keys/", {"name": "pagerduty"}, format="json").json()
    listed = api(alice).get(f"/api/v1/brands/{acme.slug}/keys/").json()

    key = BrandKey.objects.for_brands([acme.pk]).get()
    assert issued["routing_key"] == key.routing_key()
    assert "routing_key" not in listed["results"][0]


def test_a_key_in_the_path_wins_over_a_header(acme_key, payload):
    client = APIClient()
    response = client.post(
        f"{URL}{acme_key.plain}/",
        data=payload("youscan_mention"),
        format="json",
        HTTP_AUTHORIZATION="Api-Key nonsense.nonsense",
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "header",
    ["Token abc", "Basic !!!not-base64", "Basic " + "eW91c2Nhbjo=", "Api-Key", "Api-Key ключ"],
    ids=["another scheme", "broken basic", "basic without password", "no key", "not ascii"],
)
def test_a_malformed_credential_is_401(acme, payload, header):
    response = APIClient().post(
        URL,
        data=payload("youscan_mention"),
        format="json",
        HTTP_AUTHORIZATION=header.encode().decode("latin-1"),
    )
    assert response.status_code == 401


def test_a_key_in_the_path_is_in_no_log_and_no_error_report(acme_key, payload, caplog, monkeypatch):
    secret = acme_key.plain.partition(".")[2]
    caplog.set_level(logging.DEBUG)
    client = APIClient(raise_request_exception=False)
    gunicorn = {"RAW_URI": f"{URL}{acme_key.plain}/?from=youscan", "REQUEST_URI": f"{URL}{acme_key.plain}/"}
    refused = client.post(f"{URL}{acme_key.prefix}.wrong-secret/", data={}, format="json")
    bad = client.post(
        f"{URL}{acme_key.plain}/?from=youscan", data={"mentionId": None}, format="json", **gunicorn
    )

    def explode(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(youscan, "receive", explode)
    broken = client.post(
        f"{URL}{acme_key.plain}/", data=payload("youscan_mention"), format="json", **gunicorn
    )

    assert (refused.status_code, bad.status_code, broken.status_code) == (401, 400, 500)
    assert any("Bad Request" in r.getMessage() for r in caplog.records)  # Django did log them...
    logged = "\n".join(
        r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
        for r in caplog.records
    )
    assert secret not in logged  # ...without the key
    assert "wrong-secret" not in logged
    for response in (bad, broken):
        request = response.wsgi_request
        assert request.path == "/api/v1/integrations/youscan/{key}/"
        for name in ("PATH_INFO", "RAW_URI", "REQUEST_URI"):
            assert secret not in request.META[name]
    # gunicorn's access log prints RAW_URI from the same environ, after the response.
    assert bad.wsgi_request.META["RAW_URI"] == "/api/v1/integrations/youscan/{key}/?from=youscan"
    assert broken.wsgi_request.META["RAW_URI"] == "/api/v1/integrations/youscan/{key}/"
    # What an error report (AdminEmailHandler, the technical 500 page) prints of the request.
    report = ExceptionReporter(broken.wsgi_request, *_an_error()).get_traceback_text()
    assert secret not in report
    assert "/api/v1/integrations/youscan/{key}/" in report


def test_a_key_in_the_path_still_authenticates_each_tool(acme_key, payload):
    ok = send(
        "/api/v1/integrations/alertmanager/", payload("alertmanager_group"), key=acme_key.plain, form="path"
    )
    no_slash = APIClient().post(
        f"/api/v1/integrations/grafana/{acme_key.plain}", data=payload("grafana_group"), format="json"
    )
    assert (ok.status_code, no_slash.status_code) == (200, 200)


def _an_error():
    try:
        raise RuntimeError("database on fire")
    except RuntimeError:
        return sys.exc_info()
