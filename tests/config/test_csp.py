"""
A Content-Security-Policy on every page: scripts from our own origin only, none inline. The
console (htmx), the admin and the API docs (Swagger UI, its init script served apart) work
under it in a real browser, with no violation reported; screenshots go to VAR_DIR/screenshots.
"""

import os
import re
import shutil

import pytest
from django.test import Client

from tests.xdist_isolation import screenshots_dir

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in this thread

CHROMIUM = "/usr/bin/chromium"
SHOTS = screenshots_dir()


@pytest.mark.parametrize("path", ["/login/", "/api/docs/", "/api/v1/brands/", "/admin/login/", "/healthz"])
def test_every_answer_carries_the_policy(db, path):
    policy = Client().get(path)["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "unsafe-eval" not in policy


def test_the_docs_page_has_no_inline_script(db):
    page = Client().get("/api/docs/").content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert scripts and all("src=" in attributes and not body.strip() for attributes, body in scripts)
    init = Client().get("/api/docs/?script=")
    assert init.status_code == 200 and "SwaggerUIBundle" in init.content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_console_the_admin_and_the_docs_run_under_the_policy(
    live_server, alice, bob, root, file_incident
):
    if not shutil.which(CHROMIUM):
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("Debian's chromium is not installed")
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    incident = file_incident(title="Wave of angry comments", severity="critical")
    SHOTS.mkdir(parents=True, exist_ok=True)
    violations = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"], headless=True
        )
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(15_000)
        page.on(
            "console",
            lambda message: (
                violations.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        page.goto(f"{live_server.url}/api/docs/")
        page.wait_for_selector(".swagger-ui .info .title")
        page.wait_for_selector(".opblock-tag")  # the schema was fetched and rendered
        page.screenshot(path=str(SHOTS / "api-docs-csp.png"), full_page=True)

        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "x-alice")
        page.click("#sign-in")
        page.wait_for_url(f"{live_server.url}/")
        # htmx runs: the rows refresh themselves, and a filter swaps them without a reload.
        page.wait_for_selector(f'tr[data-incident="{incident.pk}"]')
        page.select_option("select[name=severity]", "critical")
        page.wait_for_url("**/?*severity=critical*")
        page.goto(f"{live_server.url}/incidents/{incident.pk}/")
        page.click('button[data-action="claim"]')
        assert page.locator(".state").inner_text() == "Acknowledged"
        page.goto(f"{live_server.url}/brands/acme/dashboard/")
        page.screenshot(path=str(SHOTS / "dashboard-csp.png"), full_page=True)

        admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        admin.on(
            "console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None
        )
        admin.goto(f"{live_server.url}/admin/login/")
        admin.fill("input[name=username]", "root")
        admin.fill("input[name=password]", "x-root")
        admin.click("input[type=submit]")
        admin.goto(f"{live_server.url}/admin/incidents/incident/")
        admin.click("#action-toggle")  # the admin's own script selects every row
        assert admin.locator(".action-counter").inner_text().startswith("1 of 1")
        admin.screenshot(path=str(SHOTS / "admin-csp.png"), full_page=True)
        browser.close()
    assert violations == []
