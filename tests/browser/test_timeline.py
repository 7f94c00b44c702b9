"""
The incident's timeline in a real browser: an escalation whose level 2 reached no one (no
executive in the brand) is said loudly at the top of the page and in the timeline, with
whom the managers' fallback reached and whether it arrived; the brand's settings warn of
it ahead of time. Screenshots (English, Russian, a 390 px phone) under VAR_DIR/screenshots/.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from crisis.tenancy import Principal
from incidents import clock, filing, outbox, services
from incidents.models import Notification
from playbooks.services import playbook_save
from tests.conftest import complete_required_steps

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def escalated(acme, alice, bob, settings):
    """
    A critical incident that went public 30 minutes ago: both levels of the default chain
    have fired (level 2 names executives; acme has none), level 1's e-mail to alice was
    delivered; then bob claimed it, commented and ticked off a step with a note.
    """
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    alice.email = "alice@acme.test"
    alice.save()
    # The brand's own playbook: the shipped library does not outlive a transactional test.
    playbook_save(
        principal=Principal.for_user(alice),
        playbook=None,
        brand=acme,
        name="Account blocked",
        category="platform_block",
        severities=[],
        language="en",
        steps=[
            {
                "title": "Appeal to the platform",
                "description": "",
                "role": "responder",
                "due_after_seconds": 900,
                "required": True,
            },
            {
                "title": "Tell followers where to find us",
                "description": "",
                "role": "responder",
                "due_after_seconds": 1800,
                "required": True,
            },
        ],
    )
    incident = filing.incident_file(
        principal=Principal.for_user(alice),
        brand=acme,
        title="Instagram blocked the brand account",
        severity="critical",
        category="platform_block",
        channel="instagram",
        detected_at=timezone.now() - timedelta(minutes=30),
    ).incident
    clock.sweep(plan_ahead=False)
    first = Notification.all_brands.filter(incident=incident, reason="escalated").order_by("pk").first()
    assert outbox.deliver(first.pk) == "sent"
    principal = Principal.for_user(bob)
    services.incident_claim(incident_id=incident.pk, principal=principal)
    services.incident_comment(
        incident_id=incident.pk, principal=principal, body="Appeal filed with Instagram support."
    )
    step = incident.checklist.filter(required=True).order_by("position").first()
    services.incident_step_complete(
        incident_id=incident.pk, step_id=step.pk, principal=principal, note="Ticket 4471 opened"
    )
    return incident


def test_a_level_that_reached_no_one_in_english(page_for, live_server, alice, escalated, shots):
    page = page_for(alice)
    page.goto(f"{live_server.url}/incidents/{escalated.pk}/")
    banner = page.locator("#reach-warnings")
    assert "Level 2 reached no one: no executive in this brand." in banner.inner_text()
    assert banner.is_visible()
    alarmed = page.locator("#timeline li.alarmed")
    assert alarmed.count() == 1
    assert "The brand's managers were told instead: alice." in alarmed.inner_text()
    level_one = page.locator('#timeline li[data-kind="escalated"]').first
    assert "alice · e-mail: delivered" in level_one.inner_text()
    timeline = page.locator("#timeline").inner_text()
    assert "Ticket 4471 opened" in timeline and "Appeal filed with Instagram support." in timeline
    page.locator("#timeline").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "timeline-nobody-reached.png"), full_page=True)

    page.goto(f"{live_server.url}/brands/acme/settings/")
    warning = page.locator("#reach-warnings").inner_text()
    assert "Level 2 would reach no one today: no executive in this brand." in warning
    page.screenshot(path=str(shots / "settings-reach-warning.png"), full_page=True)


def test_a_level_that_reached_no_one_in_russian(page_for, live_server, alice, escalated, shots):
    page = page_for(alice, locale="ru-RU")
    page.goto(f"{live_server.url}/incidents/{escalated.pk}/")
    banner = page.locator("#reach-warnings").inner_text()
    assert "Уровень 2 не дошёл ни до кого: в бренде нет ключевого коммуникатора." in banner
    timeline = page.locator("#timeline").inner_text()
    assert "Эскалация, уровень 2" in timeline
    assert "alice · электронная почта: доставлено" in timeline
    assert "escalated" not in timeline and "no_such_member" not in timeline
    page.screenshot(path=str(shots / "timeline-nobody-reached-ru.png"), full_page=True)


def test_the_timeline_on_a_phone(page_for, live_server, bob, escalated, shots):
    page = page_for(bob, locale="ru-RU", phone=True)
    page.goto(f"{live_server.url}/incidents/{escalated.pk}/")
    banner = page.locator("#reach-warnings")
    assert banner.is_visible()
    # Nothing wider than the screen: the long sentences wrap.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    page.locator("#timeline li.alarmed").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "timeline-nobody-reached-phone.png"), full_page=True)
    page.locator("#reach-warnings").screenshot(path=str(shots / "timeline-nobody-reached-phone-banner.png"))
    page.locator("#timeline").screenshot(path=str(shots / "timeline-nobody-reached-phone-timeline.png"))


def test_a_resolved_incident_s_timeline(page_for, live_server, alice, bob, escalated, shots):
    principal = Principal.for_user(bob)
    services.incident_investigate(incident_id=escalated.pk, principal=principal)
    complete_required_steps(escalated, bob)
    services.incident_resolve(
        incident_id=escalated.pk, principal=principal, resolution="Account restored after the appeal."
    )
    page = page_for(alice)
    page.goto(f"{live_server.url}/incidents/{escalated.pk}/")
    resolved = page.locator('#timeline li[data-kind="resolved"]').inner_text()
    assert "bob" in resolved and "Account restored after the appeal." in resolved
