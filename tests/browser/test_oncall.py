"""
On call in a real browser: who is on call now and next on the queue, a schedule's two weeks
as a timeline in the viewer's zone, "take this shift", a manager editing layers and adding
an override; in English, in Russian and on a phone (no sideways scrolling).
"""

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from crisis import oncall
from crisis import services as crisis_services
from crisis.models import ScheduleOverride

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def make_schedule(brand, name="Night duty", users=("bob", "dave", "alice")):
    # Daily hand-offs at 09:00 Berlin, from last week; a weekend layer of bob over it.
    first = (
        (timezone.now() - timedelta(days=7))
        .astimezone(UTC)
        .replace(hour=7, minute=0, second=0, microsecond=0)
    )
    return oncall.schedule_create(
        brand=brand,
        name=name,
        time_zone="Europe/Berlin",
        layers=[
            {
                "name": "Rotation",
                "users": list(users),
                "start": first,
                "shift": {"every": 1, "unit": "days"},
                "restrictions": [],
            },
            {
                "name": "Weekend days",
                "users": ["dave"],
                "start": first,
                "shift": {"every": 1, "unit": "weeks"},
                "restrictions": [{"days": ["sat", "sun"], "from": "10:00", "to": "18:00"}],
            },
        ],
    )


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_on_call_now_and_next_on_the_queue_and_a_shift_taken(
    page_for, live_server, acme, alice, bob, dave, shots
):
    schedule = make_schedule(acme)
    crisis_services.profile_update(user=bob, time_zone="Asia/Tokyo")
    ScheduleOverride.all_brands.create(
        schedule=schedule,
        user=alice,
        start=timezone.now() + timedelta(days=3),
        end=timezone.now() + timedelta(days=3, hours=6),
        created_by=alice,
    )
    page = page_for(bob)
    panel = page.locator("#on-call")
    assert "Night duty" in panel.inner_text()
    now_on = oncall.on_call([schedule.pk], at=timezone.now())[schedule.pk].users[0]
    assert panel.locator(".now .person").inner_text() == now_on
    assert "JST" in panel.locator(".now").inner_text()  # the viewer's zone
    page.screenshot(path=str(shots / "oncall-queue.png"), full_page=True)

    panel.locator("a.schedule-name").click()
    page.wait_for_selector(".rota")
    kinds = page.locator(".rota-row[data-kind]").evaluate_all("els => els.map(e => e.dataset.kind)")
    assert kinds == ["layer", "layer", "override", "final"]
    assert page.locator(".rota-row.override .rota-bar").count() == 1
    assert page.locator(".rota-day").count() == 14
    assert "Asia/Tokyo" in page.inner_text("main")
    page.screenshot(path=str(shots / "oncall-schedule.png"), full_page=True)

    # bob takes the first shift in the list that is not his.
    row = page.locator("tr.shift:not(.mine)").filter(has=page.locator("button.take")).first
    taker = row.get_attribute("data-user")
    row.locator("button.take").click()
    page.wait_for_selector(".messages .success")
    assert "The shift is yours." in page.inner_text(".messages")
    taken = ScheduleOverride.all_brands.get(user=bob)
    assert taken.created_by == bob and taker != "bob"
    assert oncall.on_call([schedule.pk], at=taken.start + timedelta(seconds=1))[schedule.pk].users == ("bob",)
    page.screenshot(path=str(shots / "oncall-taken.png"), full_page=True)


def test_a_manager_edits_layers_and_adds_an_override(
    page_for, live_server, acme, alice, bob, dave, carol, shots
):
    schedule = make_schedule(acme)
    page = page_for(alice)
    page.goto(f"{live_server.url}/brands/acme/schedules/{schedule.pk}/")
    page.click("#edit-layers")
    # A bad restriction is refused next to its field, with what was typed kept.
    page.fill("#id_layers-1-restrictions", "weekends 10-18")
    page.click("#schedule-form button[type=submit]")
    error = page.locator("fieldset.layer").nth(1).locator(".errorlist")
    assert "is not like" in error.inner_text()
    page.screenshot(path=str(shots / "oncall-edit-refused.png"), full_page=True)
    page.fill("#id_layers-1-restrictions", "sat-sun 10:00-18:00\nfri 20:00-23:00")
    page.fill("#id_layers-2-name", "Leads")
    page.fill("#id_layers-2-users", "alice")
    page.fill("#id_layers-2-start", "2026-01-05T09:00")
    page.select_option("#id_layers-2-unit", "weeks")
    page.fill("#id_layers-2-restrictions", "mon 09:00-10:00")
    page.click("#schedule-form button[type=submit]")
    page.wait_for_selector(".messages .success")
    layers = list(schedule.layers.all())
    assert [layer.name for layer in layers] == ["Rotation", "Weekend days", "Leads"]
    assert layers[1].restrictions == [
        {"days": ["sat", "sun"], "from": "10:00", "to": "18:00"},
        {"days": ["fri"], "from": "20:00", "to": "23:00"},
    ]

    start = (timezone.localtime(timezone.now()) + timedelta(days=2)).replace(hour=10, minute=0)
    page.select_option("#id_user", "dave")
    page.fill("#id_start", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_end", (start + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M"))
    page.click("#override-form button[type=submit]")
    page.wait_for_selector(".messages .success")
    override = ScheduleOverride.all_brands.get(user=dave)
    assert override.end - override.start == timedelta(hours=5)
    page.screenshot(path=str(shots / "oncall-manager.png"), full_page=True)

    # A viewer sees the schedule, and nothing to change it with.
    viewer = page_for(carol)
    viewer.goto(f"{live_server.url}/brands/acme/schedules/{schedule.pk}/")
    assert viewer.locator("#edit-layers, #override-form, button.take, #delete-schedule").count() == 0


@pytest.mark.parametrize(
    ("name", "locale", "phone"),
    [("ru", "ru-RU", False), ("phone", "en-US", True), ("phone-ru", "ru-RU", True)],
)
def test_screenshots_of_the_on_call_pages(
    name, locale, phone, page_for, live_server, acme, alice, bob, dave, shots
):
    schedule = make_schedule(acme)
    page = page_for(alice, locale=locale, phone=phone)
    if locale.startswith("ru"):
        page.click("button[data-lang=ru]")
        page.wait_for_load_state()
    assert no_sideways_scroll(page), "queue"
    page.screenshot(path=str(shots / f"oncall-queue-{name}.png"), full_page=True)
    for path in (
        f"/brands/acme/schedules/{schedule.pk}/",
        f"/brands/acme/schedules/{schedule.pk}/edit/",
        "/on-call/",
    ):
        page.goto(f"{live_server.url}{path}")
        assert no_sideways_scroll(page), path
        slug = path.strip("/").replace("/", "-").replace(str(schedule.pk), "n")
        page.screenshot(path=str(shots / f"oncall-{slug}-{name}.png"), full_page=True)
        if phone:  # the first screen as the person sees it, readable at its size
            page.screenshot(path=str(shots / f"oncall-{slug}-{name}-top.png"))
    if locale.startswith("ru"):
        page.goto(f"{live_server.url}/brands/acme/schedules/{schedule.pk}/")
        assert "Ближайшие две недели" in page.inner_text("main")
