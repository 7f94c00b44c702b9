"""The console's pulled sources: on the brand's settings with status and error; added, edited, toggled."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.sources import credentials
from integrations.sources.models import Source

from .conftest import BA_TOKEN, make_source

SETTINGS = "/brands/acme/settings/"
ADD = "/brands/acme/settings/sources/add/"


@pytest.fixture
def manager(client, alice):
    client.force_login(alice)
    return client


def test_the_settings_page_lists_sources_with_status_last_poll_and_error(manager, acme):
    failing = make_source(acme, "brand_analytics", name="BA main")
    Source.all_brands.filter(pk=failing.pk).update(
        failures=3, last_error="Brand Analytics answered HTTP 503", last_error_at=timezone.now(),
        last_polled_at=timezone.now(),
    )  # fmt: skip
    make_source(acme, "talkwalker", name="TW", enabled=False)
    page = manager.get(SETTINGS).content.decode()
    assert 'id="sources"' in page
    assert "BA main" in page and "TW" in page
    assert "Failing" in page and "Brand Analytics answered HTTP 503" in page and "Disabled" in page
    assert BA_TOKEN not in page
    assert f"/brands/acme/settings/sources/{failing.pk}/" in page


def test_the_settings_page_costs_the_same_queries_with_one_source_or_ten(manager, acme):
    make_source(acme, "brand_analytics", name="BA 0")
    with CaptureQueriesContext(connection) as one:
        manager.get(SETTINGS)
    for n in range(1, 10):
        make_source(acme, "brand_analytics", name=f"BA {n}")
    with CaptureQueriesContext(connection) as ten:
        manager.get(SETTINGS)
    assert len(ten) == len(one)


def test_a_manager_adds_a_source_in_the_console(manager, acme):
    answer = manager.post(
        ADD,
        {"kind": "talkwalker", "name": "TW", "query": "acme_collector", "credentials": "tw-console",
         "interval_minutes": 10, "enabled": "on"},
    )  # fmt: skip
    assert answer.status_code == 302 and answer["Location"].endswith("/brands/acme/settings/#sources")
    source = Source.all_brands.get(name="TW")
    assert source.interval_seconds == 600 and credentials.unseal(source.credentials) == "tw-console"


def test_a_refused_source_shows_the_form_again_with_the_error(manager, acme):
    answer = manager.post(
        ADD,
        {"kind": "talkwalker", "name": "TW", "query": "Not Valid", "credentials": "x", "interval_minutes": 5},
    )
    assert answer.status_code == 400
    assert "collector id" in answer.content.decode()
    assert not Source.all_brands.exists()


def test_edit_keeps_the_token_toggle_and_delete(manager, acme):
    source = make_source(acme, "brand_analytics")
    edit = f"/brands/acme/settings/sources/{source.pk}/"
    form = manager.get(edit).content.decode()
    assert BA_TOKEN not in form and source.credentials not in form
    answer = manager.post(
        edit, {"kind": "brand_analytics", "name": "BA renamed", "query": source.query, "interval_minutes": 15}
    )
    assert answer.status_code == 302
    row = Source.all_brands.get(pk=source.pk)
    assert row.name == "BA renamed" and credentials.unseal(row.credentials) == BA_TOKEN
    assert not row.enabled  # the box was not ticked
    manager.post(f"{edit}toggle/")
    assert Source.all_brands.get(pk=source.pk).enabled
    manager.post(f"{edit}delete/")
    assert not Source.all_brands.filter(pk=source.pk).exists()


def test_only_the_brands_managers(client, acme, bob, mallory):
    source = make_source(acme, "brand_analytics")
    client.force_login(bob)
    assert client.get(ADD).status_code == 403
    assert client.post(f"/brands/acme/settings/sources/{source.pk}/delete/").status_code == 403
    client.force_login(mallory)
    assert client.get(ADD).status_code == 404
    assert client.post(f"/brands/acme/settings/sources/{source.pk}/toggle/").status_code == 404
    assert Source.all_brands.get(pk=source.pk).enabled
