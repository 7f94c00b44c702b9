"""
Public statements on the incident page in Chromium: a draft started from a template and
previewed, submitted, approved by the PR head, rejected by legal with a comment, edited (a new
version, the route starts again) with its diff, approved through, published with a link; a body
carrying HTML stays text. Screenshots in English, Russian and on a 390 px phone
(`statements-*.png` under VAR_DIR/screenshots).
"""

import pytest

from crisis.models import Membership, Profile, Role
from crisis.tenancy import Principal
from incidents import statements
from incidents.models import Statement
from playbooks.models import ResponseTemplate
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = "<b>bold?</b> <script>window.hacked = 1</script>"


@pytest.fixture
def people(acme):
    erin = make_user("erin", acme, Role.MANAGER)
    frank = make_user("frank", acme, Role.RESPONDER)
    Membership.all_brands.filter(user=frank).update(is_executive=True)
    statements.statement_route_set(
        brand=acme,
        hops=[
            {"name": "PR head", "users": ["erin"], "within_seconds": 900},
            {"name": "Legal", "roles": ["executive"], "within_seconds": 1800},
        ],
    )
    return erin, frank


def test_a_statement_from_draft_to_published(page_for, live_server, acme, bob, people, file_incident, shots):
    erin, frank = people
    incident = file_incident(title="Angry comments under the promo post", channel="vk")
    template = ResponseTemplate.objects.create(
        brand=acme,
        name="Apology",
        category="other",
        language="en",
        body="Dear {brand} customers, about “{title}”: we are sorry. {plan}",
    )
    page = page_for(bob)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    page.select_option("#new-statement select[name=statement_template]", str(template.pk))
    page.click('button[data-action="statement-template"]')
    body = page.input_value("#statement-form textarea[name=new-body]")
    assert body.startswith("Dear Acme Coffee customers, about “Angry comments") and "{plan}" in body
    page.fill(
        "#statement-form textarea[name=new-body]",
        body.replace("{plan}", "We call everyone back today. " + HOSTILE),
    )
    page.check("#statement-form input[name=new-channels][value=telegram]")
    page.click('button[data-action="statement-preview"]')
    page.wait_for_selector("#statement-preview")
    assert "<script>" in page.inner_text("#statement-preview")  # shown as text, not run
    assert page.evaluate("window.hacked") is None
    page.locator("#statement-preview").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "statements-preview.png"), full_page=True)
    page.click('button[data-action="statement-save"]')
    page.wait_for_selector("article.statement")
    statement = Statement.all_brands.get()
    page.click('button[data-action="statement-submit"]')
    page.wait_for_selector(".hop.current")
    assert "with erin" in page.inner_text(".hop.current")
    page.locator("#statements").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "statements-in-approval.png"), full_page=True)

    erin_page = page_for(erin)
    erin_page.goto(f"{live_server.url}/incidents/{incident.pk}/#statements")
    with erin_page.expect_navigation():
        erin_page.click('button[data-action="statement-approve"]')
    erin_page.wait_for_selector(".hop.approved")
    frank_page = page_for(frank)
    frank_page.goto(f"{live_server.url}/incidents/{incident.pk}/#statements")
    frank_page.fill(
        f"textarea[name=d{statement.pk}-comment]", "Do not promise “today”: say “within 24 hours”."
    )
    with frank_page.expect_navigation():
        frank_page.click('button[data-action="statement-reject"]')
    frank_page.wait_for_selector(".hop.rejected")

    # Back with bob: a new version, then the changes between the two.
    page.reload()  # bob's page is on this incident already: a goto to its #fragment would not load it
    page.click("details.edit summary")
    edited = page.input_value(f"textarea[name=s{statement.pk}-body]").replace("today", "within 24 hours")
    page.fill(f"textarea[name=s{statement.pk}-body]", edited)
    page.click('button[data-action="statement-edit"]')
    page.wait_for_selector("details.versions")
    page.click("details.versions summary")
    page.click('button[data-action="statement-diff"]')
    page.wait_for_selector("pre.diff .added")
    diff = page.inner_text("pre.diff")
    assert "+Dear" in diff and "-Dear" in diff and "within 24 hours" in diff
    assert page.evaluate("window.hacked") is None
    page.locator("pre.diff").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "statements-diff.png"), full_page=True)
    page.click('button[data-action="statement-submit"]')
    page.wait_for_selector(".hop.current")

    for approver in (erin_page, frank_page):
        approver.goto(f"{live_server.url}/incidents/{incident.pk}/")
        with approver.expect_navigation():
            approver.click('button[data-action="statement-approve"]')
    page.reload()  # bob's page is on this incident already: a goto to its #fragment would not load it
    page.fill(f"input[name=p{statement.pk}-link_vk]", "https://vk.com/wall-1_2")
    page.fill(f"input[name=p{statement.pk}-link_telegram]", "https://t.me/acme/7")
    page.click('button[data-action="statement-publish"]')
    page.wait_for_selector(".published-links")
    assert Statement.all_brands.get().state == "published"
    assert "https://t.me/acme/7" in page.inner_text("#timeline")
    page.locator("#statements").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "statements-en.png"), full_page=True)


def test_statements_in_russian_and_on_a_phone(page_for, live_server, bob, people, file_incident, shots):
    erin, _frank = people
    incident = file_incident(title="Волна негатива под акцией", channel="vk")
    statement = statements.statement_create(
        incident_id=incident.pk,
        principal=Principal.for_user(bob),
        channels=["vk"],
        language="ru",
        body="Мы приносим извинения.\nВот что мы делаем.",
    )
    page = page_for(bob, locale="ru-RU")
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    page.click(f'article[data-statement="{statement.pk}"] button[data-action="statement-submit"]')
    page.wait_for_selector(".hop.current")
    text = page.inner_text("#statements")
    for russian in ("Публичные заявления", "На согласовании", "Маршрут согласования", "у erin"):
        assert russian in text, russian
    page.locator("#statements").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "statements-ru.png"), full_page=True)
    phone = page_for(erin, locale="ru-RU", phone=True)
    phone.goto(f"{live_server.url}/incidents/{incident.pk}/#statements")
    phone.locator("#statements").scroll_into_view_if_needed()
    phone.screenshot(path=str(shots / "statements-phone.png"), full_page=False)


def test_a_manager_sets_the_approval_route_on_the_settings_page(page_for, live_server, acme, alice, shots):
    make_user("erin", acme, Role.MANAGER)
    page = page_for(alice)
    page.goto(f"{live_server.url}/brands/acme/settings/#statement-route")
    route = page.locator("#statement-route")
    route.locator("input[name=hops-0-name]").fill("PR head")
    route.locator("input[name=hops-0-within]").fill("15")
    route.locator("input[name=hops-0-users]").fill("erin")
    with page.expect_navigation():
        route.locator("button[type=submit]").click()
    assert "Approval route saved" in page.inner_text("body")
    # The saved hop is shown, and a new empty row offers the next one: legal, by role.
    route = page.locator("#statement-route")
    assert route.locator("input[name=hops-0-name]").input_value() == "PR head"
    route.locator("input[name=hops-1-name]").fill("Legal")
    route.locator("input[name=hops-1-within]").fill("1")
    route.locator("select[name=hops-1-within_unit]").select_option("hours")
    route.locator("input[name=hops-1-roles][value=executive]").check()
    with page.expect_navigation():
        route.locator("button[type=submit]").click()
    assert [hop["name"] for hop in statements.route_of(acme.pk)] == ["PR head", "Legal"]
    assert statements.route_of(acme.pk)[1]["within_seconds"] == 3600
    page.locator("#statement-route").scroll_into_view_if_needed()
    page.locator("#statement-route").screenshot(path=str(shots / "statement-route-en.png"))

    # A name nobody has: refused on the form, in Russian on a phone, nothing saved.
    Profile.objects.update_or_create(user=alice, defaults={"language": "ru"})
    phone = page_for(alice, locale="ru-RU", phone=True)
    phone.goto(f"{live_server.url}/brands/acme/settings/#statement-route")
    phone.locator("input[name=hops-0-users]").fill("erin, zed")
    with phone.expect_navigation():
        phone.locator("#statement-route button[type=submit]").click()
    assert "zed" in phone.inner_text("#statement-route .errorlist")
    assert "Маршрут согласования публичных заявлений" in phone.inner_text("#statement-route")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert statements.route_of(acme.pk)[0]["users"] == ["erin"]
    phone.locator("#statement-route").screenshot(path=str(shots / "statement-route-ru-phone.png"))
