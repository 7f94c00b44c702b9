"""The brand settings' "Pulled sources" card and the source form, in a browser (English, Russian, a phone)."""

import pytest
from django.utils import timezone

from integrations.sources import services
from integrations.sources.models import Source

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sources(acme):
    ba = services.source_create(
        brand=acme, kind="brand_analytics", name="Brand Analytics — main theme", query="12505867",
        credentials="ba-browser-token",
    )  # fmt: skip
    Source.all_brands.filter(pk=ba.pk).update(
        failures=3, last_polled_at=timezone.now(), last_error_at=timezone.now(),
        last_error="Brand Analytics answered HTTP 503", mentions_received=1284,
    )  # fmt: skip
    tw = services.source_create(
        brand=acme, kind="talkwalker", name="Talkwalker", query="acme_collector", credentials="tw-token"
    )
    Source.all_brands.filter(pk=tw.pk).update(
        last_polled_at=timezone.now(), last_success_at=timezone.now(), mentions_received=312
    )
    # Saved directly: the service would resolve the feed's host, and tests reach no DNS.
    Source.all_brands.create(
        brand=acme, kind="json_feed", name="Our script", query="https://feed.example.com/m", enabled=False
    )
    return ba


@pytest.mark.parametrize(("locale", "phone"), [("en-US", False), ("ru-RU", False), ("ru-RU", True)])
def test_the_sources_card_and_form(page_for, alice, sources, shots, live_server, locale, phone):
    page = page_for(alice, locale=locale, phone=phone)
    page.goto(f"{live_server.url}/brands/acme/settings/#sources")
    card = page.locator("#sources")
    card.scroll_into_view_if_needed()
    assert card.locator("tr.source").count() == 3
    assert "HTTP 503" in card.inner_text()
    assert "ba-browser-token" not in page.content()
    tag = f"{locale[:2]}{'-phone' if phone else ''}"
    card.screenshot(path=str(shots / f"sources-card-{tag}.png"))
    page.click("#source-add")
    page.wait_for_selector("#source-form")
    page.select_option("select[name=kind]", "talkwalker")
    page.fill("input[name=name]", "TW two")
    page.fill("input[name=query]", "Not Valid")
    page.fill("input[name=credentials]", "tw-token-2")
    page.click("#source-form button[type=submit]")
    page.wait_for_selector(".errorlist")
    page.screenshot(path=str(shots / f"sources-form-error-{tag}.png"), full_page=True)
    assert page.input_value("input[name=credentials]") == ""  # a refused form never echoes the token
    page.fill("input[name=query]", "acme_second")
    page.fill("input[name=credentials]", "tw-token-2")
    page.click("#source-form button[type=submit]")
    page.wait_for_selector("#sources")
    assert Source.all_brands.filter(name="TW two").exists()
