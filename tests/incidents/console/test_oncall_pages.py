"""
The console's on-call pages (issue 21, item 4): who is on call now and next on the queue,
a schedule's two weeks in the viewer's zone, "take this shift", and the managers' forms,
which go through the API's own validation and services.

acme: alice (manager), bob and dave (responders), carol (viewer); globex: mallory (manager).
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crisis import oncall
from crisis import services as crisis_services
from crisis.models import Schedule, ScheduleOverride

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # a Monday; 14:00 in Berlin


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def make_schedule(brand, name="Night duty", users=("bob", "dave"), zone="Europe/Berlin", **layer):
    return oncall.schedule_create(
        brand=brand,
        name=name,
        time_zone=zone,
        layers=[
            {
                "name": "Rotation",
                "users": list(users),
                "start": datetime(2026, 6, 1, 7, 0, tzinfo=UTC),  # 09:00 in Berlin
                "shift": {"every": 1, "unit": "days"},
                "restrictions": [],
                **layer,
            }
        ],
    )


@pytest.fixture
def schedule(acme, alice, bob, dave):
    return make_schedule(acme)


def url(schedule, tail=""):
    return f"/brands/{schedule.brand.slug}/schedules/{schedule.pk}/{tail}"


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


# --- Who is on call now and next --------------------------------------------------------


def test_the_queue_says_who_is_on_call_now_and_next_in_my_brands(web, schedule, carol, globex, mallory):
    make_schedule(globex, name="Globex nights", users=("mallory",))
    page = text(web(carol).get("/"))
    # bob from 09:00 Berlin today to 09:00 tomorrow; then dave (the viewer's zone: acme's, UTC).
    assert "Acme Coffee · Night duty" in page
    assert "bob until 2026-06-02 07:00 UTC" in page
    assert "next: dave from 2026-06-02 07:00 UTC" in page
    assert "Globex" not in page  # another brand's schedule is not shown


def test_the_queue_says_nobody_when_nobody_is_on_call(web, acme, alice, bob):
    make_schedule(acme, name="Later", users=("bob",), start=NOW + timedelta(days=2))
    page = text(web(alice).get("/"))
    assert "Nobody on call now" in page
    assert "next: bob from 2026-06-03 12:00 UTC" in page


def test_the_queue_reads_schedules_in_a_fixed_number_of_queries(web, acme, alice, bob, dave):
    client = web(alice)
    make_schedule(acme, name="One")
    client.get("/")  # warm the session and caches
    with CaptureQueriesContext(connection) as one:
        assert client.get("/").status_code == 200
    for n in range(4):
        make_schedule(acme, name=f"More {n}", users=("dave", "bob"))
    with CaptureQueriesContext(connection) as five:
        page = text(client.get("/"))
    assert page.count("Acme Coffee ·") == 5
    assert len(five) == len(one)


# --- The schedule page ----------------------------------------------------------------------


def test_the_schedule_page_draws_two_weeks_in_the_viewers_zone(web, schedule, bob, alice):
    crisis_services.profile_update(user=bob, time_zone="Asia/Tokyo")
    ScheduleOverride.all_brands.create(
        schedule=schedule, user=alice, start=NOW + timedelta(hours=2), end=NOW + timedelta(hours=4)
    )
    answer = web(bob).get(url(schedule))
    assert answer.status_code == 200
    html = answer.content.decode()
    # Fourteen days from the viewer's midnight: 2026-06-01 00:00 in Tokyo.
    days = re.findall(r'class="rota-day[^"]*" style="left: ([0-9.]+)%">(\w+)<br>(\d+)', html)
    assert [(d[1], d[2]) for d in days[:2]] == [("Mon", "1"), ("Tue", "2")]
    assert len(days) == 14 and days[0][0] == "0.000"
    rows = re.findall(r'data-kind="(\w+)"', html)
    assert rows == ["layer", "override", "final"]
    # The result row: nobody before the first hand-off (09:00 Berlin today), bob, alice's
    # override cutting bob's shift, bob again, then dave …
    final = html.split('data-kind="final"')[1]
    assert re.findall(r'data-user="(\w+)"', final)[:5] == ["bob", "alice", "bob", "dave", "bob"]
    assert re.search(r'data-user="bob"', final) and 'style="left: 11.012%' not in final
    assert "Times are shown in your time zone, Asia/Tokyo." in text(answer)
    # The shifts' list, in Tokyo time: bob's current shift runs until 16:00 JST tomorrow.
    assert "2026-06-02 16:00 JST" in text(answer)


def test_a_responder_takes_a_shift_through_the_apis_service(web, schedule, bob, dave):
    client = web(bob)
    page = client.get(url(schedule)).content.decode()
    # dave's shift tomorrow, as the page offers it.
    start = datetime(2026, 6, 2, 7, 0, tzinfo=UTC)
    end = datetime(2026, 6, 3, 7, 0, tzinfo=UTC)
    assert f'value="{start.isoformat()}"' in page
    answer = client.post(url(schedule, "take/"), {"start": start.isoformat(), "end": end.isoformat()})
    assert answer.status_code == 302
    override = ScheduleOverride.all_brands.get()
    assert (override.user, override.start, override.end, override.created_by) == (bob, start, end, bob)
    assert "The shift is yours." in text(client.get(url(schedule)))
    assert oncall.on_call([schedule.pk], at=start + timedelta(hours=1))[schedule.pk].users == ("bob",)


def test_a_viewer_is_offered_nothing_and_refused_everything(web, schedule, carol):
    client = web(carol)
    page = client.get(url(schedule)).content.decode()
    assert "Take this shift" not in page and "Edit layers" not in page and 'id="override-form"' not in page
    start, end = NOW + timedelta(days=1), NOW + timedelta(days=2)
    assert (
        client.post(url(schedule, "take/"), {"start": start.isoformat(), "end": end.isoformat()}).status_code
        == 403
    )
    assert (
        client.post(
            url(schedule, "overrides/"),
            {"user": "carol", "start": "2026-06-02T10:00", "end": "2026-06-02T12:00"},
        ).status_code
        == 403
    )
    assert client.get(url(schedule, "edit/")).status_code == 403
    assert client.post(url(schedule, "edit/"), {"name": "Mine"}).status_code == 403
    assert client.post(url(schedule, "delete/")).status_code == 403
    assert ScheduleOverride.all_brands.count() == 0
    assert Schedule.all_brands.get().name == "Night duty"


@pytest.mark.parametrize(
    ("method", "tail"),
    [
        ("get", ""),
        ("get", "edit/"),
        ("post", "edit/"),
        ("post", "take/"),
        ("post", "overrides/"),
        ("post", "overrides/remove/"),
        ("post", "delete/"),
    ],
)
def test_another_brands_schedule_is_a_404(web, schedule, mallory, method, tail):
    assert getattr(web(mallory), method)(url(schedule, tail)).status_code == 404
    assert Schedule.all_brands.filter(pk=schedule.pk).exists()


def test_a_responder_cannot_put_someone_else_on_call(web, schedule, bob):
    answer = web(bob).post(
        url(schedule, "overrides/"), {"user": "dave", "start": "2026-06-02T10:00", "end": "2026-06-02T12:00"}
    )
    assert answer.status_code == 403
    assert ScheduleOverride.all_brands.count() == 0


def test_a_manager_adds_an_override_in_their_own_time_and_the_person_removes_it(web, schedule, alice, dave):
    crisis_services.profile_update(user=alice, time_zone="Europe/Moscow")
    answer = web(alice).post(
        url(schedule, "overrides/"), {"user": "dave", "start": "2026-06-02T10:00", "end": "2026-06-02T12:00"}
    )
    assert answer.status_code == 302
    override = ScheduleOverride.all_brands.get()
    # Typed in Moscow time (UTC+3).
    assert (override.user, override.start, override.end) == (
        dave,
        datetime(2026, 6, 2, 7, 0, tzinfo=UTC),
        datetime(2026, 6, 2, 9, 0, tzinfo=UTC),
    )
    assert web(dave).post(url(schedule, "overrides/remove/"), {"override": override.pk}).status_code == 302
    assert ScheduleOverride.all_brands.count() == 0


def test_an_override_refused_by_the_service_says_why_on_the_form(web, schedule, alice):
    answer = web(alice).post(
        url(schedule, "overrides/"), {"user": "dave", "start": "2026-06-02T12:00", "end": "2026-06-02T10:00"}
    )
    assert answer.status_code == 400
    assert "The end must come after the start." in text(answer)
    assert ScheduleOverride.all_brands.count() == 0


def test_someone_elses_override_is_not_removed_by_a_responder(web, schedule, alice, bob, dave):
    override = ScheduleOverride.all_brands.create(
        schedule=schedule, user=dave, start=NOW + timedelta(hours=2), end=NOW + timedelta(hours=4)
    )
    assert web(bob).post(url(schedule, "overrides/remove/"), {"override": override.pk}).status_code == 403
    assert ScheduleOverride.all_brands.count() == 1


# --- Managers edit layers ----------------------------------------------------------------------


def layer_post(**changes) -> dict:
    data = {
        "name": "Night duty",
        "time_zone": "Europe/Berlin",
        "layers-TOTAL_FORMS": "2",
        "layers-INITIAL_FORMS": "1",
        "layers-MIN_NUM_FORMS": "0",
        "layers-MAX_NUM_FORMS": "10",
        "layers-0-name": "Weekdays",
        "layers-0-users": "dave\nbob",
        "layers-0-start": "2026-06-01T09:00",
        "layers-0-every": "1",
        "layers-0-unit": "weeks",
        "layers-0-restrictions": "mon-fri 09:00-18:00",
        "layers-1-every": "1",
        "layers-1-unit": "days",
    }
    data.update(changes)
    return data


def test_a_manager_edits_the_layers_as_the_api_would_store_them(web, schedule, alice, api):
    crisis_services.profile_update(user=alice, time_zone="Europe/Berlin")
    client = web(alice)
    form = client.get(url(schedule, "edit/")).content.decode()
    assert 'value="Rotation"' in form and '<option value="Europe/Berlin" selected>' in form
    answer = client.post(url(schedule, "edit/"), layer_post())
    assert answer.status_code == 302, text(answer)
    stored = api(alice).get(f"/api/v1/brands/acme/schedules/{schedule.pk}/").json()
    assert stored["layers"] == [
        {
            "name": "Weekdays",
            "users": ["dave", "bob"],
            "start": "2026-06-01T07:00:00Z",  # 09:00 typed in Berlin
            "shift": {"every": 1, "unit": "weeks"},
            "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "18:00"}],
        }
    ]
    # The form shows it back as it was typed.
    again = client.get(url(schedule, "edit/")).content.decode()
    assert "mon-fri 09:00-18:00" in again and "2026-06-01T09:00" in again


def test_a_manager_adds_a_second_layer_and_removes_the_first(web, schedule, alice):
    client = web(alice)
    post = layer_post(
        **{
            "layers-0-DELETE": "on",
            "layers-1-name": "Weekend",
            "layers-1-users": "bob",
            "layers-1-start": "2026-06-06T10:00",
            "layers-1-restrictions": "sat,sun 10:00-16:00",
        }
    )
    assert client.post(url(schedule, "edit/"), post).status_code == 302
    layers = list(Schedule.all_brands.get().layers.all())
    assert [(layer.name, layer.restrictions) for layer in layers] == [
        ("Weekend", [{"days": ["sat", "sun"], "from": "10:00", "to": "16:00"}])
    ]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"layers-0-users": "bob, carol"}, "Not responders or managers of this brand: carol"),
        ({"layers-0-users": "bob, mallory"}, "Not responders or managers of this brand: mallory"),
        ({"layers-0-restrictions": "weekdays 9-18"}, "is not like"),
        ({"layers-0-restrictions": "mon 25:00-18:00"}, "A time of day as HH:MM"),
        ({"layers-0-restrictions": "moon 09:00-18:00"}, "Unknown day"),
        ({"layers-0-every": "0"}, "greater than or equal to 1"),
        ({"layers-0-start": "1999-01-01T09:00"}, "between the years 2000 and 2099"),
        ({"name": ""}, "This field is required."),
        ({"layers-0-DELETE": "on"}, "A schedule needs at least one layer."),
    ],
)
def test_a_refused_layer_says_why_and_changes_nothing(web, schedule, alice, carol, mallory, change, says):
    answer = web(alice).post(url(schedule, "edit/"), layer_post(**change))
    assert answer.status_code == 400
    assert says in text(answer)
    layer = Schedule.all_brands.get().layers.get()
    assert layer.name == "Rotation"


def test_a_name_already_taken_is_refused_on_the_name(web, schedule, acme, alice):
    make_schedule(acme, name="Days")
    answer = web(alice).post(url(schedule, "edit/"), layer_post(name="Days"))
    assert answer.status_code == 400
    assert "A schedule with this name already exists." in text(answer)


def test_a_manager_creates_and_deletes_a_schedule(web, acme, alice, bob, dave):
    client = web(alice)
    assert client.get("/brands/acme/schedules/new/").status_code == 200
    post = layer_post(name="Weekend desk", **{"layers-INITIAL_FORMS": "0"})
    answer = client.post("/brands/acme/schedules/new/", post)
    assert answer.status_code == 302
    schedule = Schedule.all_brands.get(name="Weekend desk")
    assert answer["Location"] == url(schedule)
    assert client.post(url(schedule, "delete/")).status_code == 302
    assert not Schedule.all_brands.exists()


def test_the_pages_speak_russian(web, schedule, bob):
    client = web(bob)
    client.cookies["django_language"] = "ru"
    page = text(client.get(url(schedule)))
    assert "Ближайшие две недели" in page and "Взять эту смену" in page
    assert "Дежурство" in text(client.get("/")) and "до 2026-06-02 07:00 UTC" in text(client.get("/"))
