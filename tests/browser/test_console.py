"""
The console in a real browser: headless Chromium (Debian's package) driven by
Playwright. Screenshots of the queue and an incident page are saved under
`var/test/screenshots/` (VAR_DIR/screenshots).
"""

import pytest

from crisis.tenancy import Principal
from incidents import filing, selectors
from incidents.models import Incident
from tests.xdist_isolation import screenshots_dir

SHOTS = screenshots_dir()

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_responder_claims_works_the_checklist_and_resolves(page_for, live_server, bob, alice):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = page_for(bob)
    assert page.locator("h1").inner_text() == "Open incidents"
    incident = filing.incident_file(
        principal=Principal.for_user(alice),
        brand=alice.memberships.get().brand,
        title="Wave of angry comments under the promo post",
        severity="critical",
        category="negative_wave",
        channel="vk",
    ).incident
    # No reload: htmx refreshes the rows every few seconds.
    row = page.wait_for_selector(f'tr[data-incident="{incident.pk}"]', timeout=12_000)
    assert "Wave of angry comments" in row.inner_text()
    # The countdown says the time left as the duration filter does: "14 min 59 s".
    page.wait_for_function(r"/^\d+ (min|s)\b/.test(document.querySelector('.countdown').textContent)")
    page.screenshot(path=str(SHOTS / "queue.png"), full_page=True)

    page.click(f'tr[data-incident="{incident.pk}"] a')
    page.click('button[data-action="claim"]')
    assert page.locator(".state").inner_text() == "Acknowledged"
    assert page.locator(".assignee").inner_text() == "bob"
    for step in incident.checklist.filter(required=True):
        page.click(f'button[data-complete="{step.pk}"]')
    page.click('button[data-action="investigate"]')
    page.fill("textarea[name=resolution]", "Apologised in the thread; the courier issue is fixed.")
    page.screenshot(path=str(SHOTS / "incident.png"), full_page=True)
    page.click('button[data-action="resolve"]')
    assert page.locator(".state").inner_text() == "Resolved"
    assert Incident.all_brands.get(pk=incident.pk).state == "resolved"
    assert (SHOTS / "queue.png").stat().st_size > 10_000


def test_manager_changes_an_sla_target(page_for, live_server, alice):
    page = page_for(alice)
    page.goto(f"{live_server.url}/brands/acme/settings/")
    page.fill("#id_critical_ack_0", "0")  # the amount; the unit beside it says minutes
    page.click("#sla-form button[type=submit]")
    error = page.locator(".field.invalid .errorlist")
    assert "Choose more than zero." in error.inner_text()
    assert not alice.memberships.get().brand.sla_policies.exists()
    page.fill("#id_critical_ack_0", "5")
    page.click("#sla-form button[type=submit]")
    assert "SLA targets saved." in page.locator(".messages").inner_text()
    # Through the brand: SLA policies are read per brand.
    assert alice.memberships.get().brand.sla_policies.get(severity="critical").ack_seconds == 300
    assert page.url == f"{live_server.url}/brands/acme/settings/"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "settings.png"), full_page=True)


def test_switch_to_russian(page_for, live_server, bob, file_incident):
    file_incident(title="Фейк о плесени в стаканах", severity="high")
    page = page_for(bob)
    page.click('button[data-lang="ru"]')
    page.wait_for_selector("text=Открытые инциденты")
    assert page.locator("h1").inner_text() == "Открытые инциденты"
    assert "Фейк о плесени в стаканах" in page.locator("table.queue").inner_text()
    assert "Высокий" in page.locator("table.queue").inner_text()
    page.screenshot(path=str(SHOTS / "queue-ru.png"), full_page=True)


def test_a_phone_sized_screen_shows_the_queue(browser, live_server, bob, file_incident):
    file_incident(title="Blocked on Instagram", severity="critical")
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "x-bob")
    page.click("#sign-in")
    page.wait_for_selector("text=Blocked on Instagram")
    width = page.evaluate("document.documentElement.scrollWidth")
    context.close()
    assert width <= 400  # no sideways scrolling on a phone


def test_manager_sets_the_status_update_policy(page_for, live_server, alice):
    page = page_for(alice)
    page.goto(f"{live_server.url}/brands/acme/settings/#updates-policy")
    form = page.locator("#updates-policy-form")
    assert form.locator("input[name=critical]").input_value() == "30"  # the default: every 30 minutes
    form.locator("input[name=high]").fill("")  # no updates due for high
    form.locator("textarea[name=stakeholder_emails]").fill("pr@acme.example\nnot an address")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert "Not e-mail addresses: not, an, address" in page.inner_text("#updates-policy")
    form = page.locator("#updates-policy-form")
    form.locator("textarea[name=stakeholder_emails]").fill("pr@acme.example, ceo@acme.example")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert "Status update policy saved." in page.locator(".messages").inner_text()
    policy = selectors.updates_policy_for(alice.memberships.get().brand_id)
    assert policy == {
        "cadence_seconds": {"critical": 1800, "high": None, "medium": None, "low": None},
        "stakeholder_emails": ["pr@acme.example", "ceo@acme.example"],
    }
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#updates-policy").scroll_into_view_if_needed()
    page.locator("#updates-policy").screenshot(path=str(SHOTS / "settings-updates-policy.png"))
