"""
Fixtures of the browser tests: headless Chromium (Debian's package) driven by Playwright.

Each area of the console has its own test module here; screenshots go under
`var/test/screenshots/` (VAR_DIR/screenshots), to be looked at.
"""

import os
import shutil

import pytest

from tests.xdist_isolation import screenshots_dir

# Playwright's sync API runs an event loop in this thread; the test's own ORM
# calls are ordinary blocking calls, which Django would otherwise refuse.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        message = "Debian's chromium is not installed (make test installs it when run as root)"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page_for(browser, live_server):
    contexts = []

    def _open(user, password=None, locale="en-US", phone=False):
        """A signed-in page for `user`; `phone=True` opens it on a 390 px phone screen."""
        if phone:
            context = browser.new_context(locale=locale, viewport=PHONE, is_mobile=True, has_touch=True)
        else:
            context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", password or f"x-{user.username}")
        page.click("#sign-in")
        page.wait_for_url(f"{live_server.url}/")
        return page

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture
def shots():
    """Where screenshots go; `shots / "name.png"`."""
    path = screenshots_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path
