"""
Incident command on the incident page in Chromium: a severity change previewed then
confirmed, roles given, an incident found and linked, another merged, a status update sent;
screenshots in English, Russian and on a 390 px phone (`command-*.png` under
VAR_DIR/screenshots).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from crisis.tenancy import Principal
from incidents import services
from incidents.models import Incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_command_a_crisis_from_its_page(page_for, live_server, alice, bob, dave, file_incident, shots):
    incident = file_incident(
        title="Angry comments under the promo post", detected_at=timezone.now() - timedelta(minutes=15)
    )
    other = file_incident(title="Promo complaints on Telegram")
    services.incident_claim(incident_id=incident.pk, principal=Principal.for_user(bob))
    page = page_for(alice)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")

    page.select_option("#severity-form select[name=severity]", "critical")
    page.fill("#severity-form textarea[name=reason]", "A national TV channel picked the story up.")
    page.click('button[data-action="severity"]')
    page.wait_for_selector("#severity-preview")
    preview = page.inner_text("#severity-preview")
    assert "Critical" in preview and "Resolve by" in preview and "every 30 min" in preview
    page.locator("#severity-preview").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "command-severity-preview.png"), full_page=True)
    page.click('button[data-action="severity-confirm"]')
    page.wait_for_selector(".messages, .message, [role=status]")
    assert Incident.all_brands.get(pk=incident.pk).severity == "critical"

    page.select_option("#roles-form select[name=role]", "comms")
    page.select_option("#roles-form select[name=username]", "dave")
    page.click('button[data-action="roles"]')
    page.wait_for_selector('dd[data-role="comms"]:has-text("dave")')

    page.fill("#find-form input[name=find]", "promo")
    page.click('button[data-action="find"]')
    page.wait_for_selector(f'[data-found="{other.pk}"]')
    page.click(f'[data-found="{other.pk}"] button[data-action="link"]')
    page.wait_for_selector(f'[data-linked="{other.pk}"]')

    page.select_option("#update-form select[name=audience]", "stakeholders")
    page.fill("#update-form textarea[name=body]", "We have found the cause and are replying to everyone.")
    page.click('button[data-action="update"]')
    page.wait_for_selector(".status-update")
    assert "We have found the cause" in page.inner_text("#updates")
    assert "Next update due" in page.inner_text("#updates")
    page.locator("#command").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "command-en.png"), full_page=True)

    # The merge: found again, confirmed in its fold, then the page of a merged incident.
    page.fill("#find-form input[name=find]", "Telegram")
    page.click('button[data-action="find"]')
    page.click(f'[data-found="{other.pk}"] details.merge summary')
    page.click(f'[data-found="{other.pk}"] button[data-action="merge"]')
    page.wait_for_selector("#merged-into")
    assert Incident.all_brands.get(pk=incident.pk).merged_into_id == other.pk
    page.screenshot(path=str(shots / "command-merged.png"), full_page=True)


def test_command_in_russian_and_on_a_phone(page_for, live_server, alice, bob, file_incident, shots):
    incident = file_incident(title="Волна негатива под акцией", severity="critical")
    services.incident_claim(incident_id=incident.pk, principal=Principal.for_user(bob))
    page = page_for(alice, locale="ru-RU")
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    text = page.inner_text("#command") + page.inner_text("#updates")
    for russian in ("Роли", "Изменить важность", "Связанные инциденты", "Обновления статуса"):
        assert russian in text, russian
    page.locator("#command").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "command-ru.png"), full_page=True)

    phone = page_for(alice, phone=True)
    phone.goto(f"{live_server.url}/incidents/{incident.pk}/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= phone.viewport_size["width"]
    phone.locator("#updates").scroll_into_view_if_needed()
    phone.screenshot(path=str(shots / "command-phone.png"), full_page=True)
