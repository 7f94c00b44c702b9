"""The brand settings' "Tools that send to the desk" card, in a browser (English, Russian, a phone)."""

import pytest

from crisis.models import BrandKey, Mention

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("locale", "phone"), [("en-US", False), ("ru-RU", False), ("ru-RU", True)])
def test_the_adapters_card_copies_a_url_and_sends_a_test_event(
    page_for, alice, acme, shots, live_server, locale, phone
):
    BrandKey.issue(brand=acme, name="YouScan topic")
    page = page_for(alice, locale=locale, phone=phone)
    page.goto(f"{live_server.url}/brands/acme/settings/#integrations")
    card = page.locator("#integrations")
    card.scroll_into_view_if_needed()
    assert card.locator(".adapter").count() == 5
    assert (
        card.locator("#adapter-youscan input.copyable")
        .input_value()
        .endswith("/api/v1/integrations/youscan/{key}/")
    )
    tag = f"{locale[:2]}{'-phone' if phone else ''}"
    card.screenshot(path=str(shots / f"integrations-card-{tag}.png"))
    card.locator("#adapter-youscan button.copy").click()
    page.wait_for_selector("#adapter-youscan button.copy[data-copied]")
    card.locator("#adapter-youscan form button").click()
    page.wait_for_selector(".messages, .message, [role=status]", timeout=15_000)
    assert Mention.all_brands.filter(brand=acme).count() == 1
    page.screenshot(path=str(shots / f"integrations-test-sent-{tag}.png"), full_page=not phone)
