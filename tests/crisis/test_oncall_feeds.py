"""
Calendar feeds of on-call shifts (API.md): per schedule and per person, with a feed token
from `POST /me/calendar-token/` (a new one revokes the old). Each feed is parsed with
`icalendar` and with a second, independent parser (`vobject`); overrides show; a wrong,
revoked or foreign token is a 404; the token never reaches a log line.
"""

from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import time_machine
import vobject
from django.test import RequestFactory

from crisis import feeds, oncall
from crisis.models import CalendarFeed, Profile
from crisis.tenancy import Principal

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def nights(acme, alice, bob, dave):
    schedule = oncall.schedule_create(
        brand=acme,
        name="Nights",
        time_zone="Europe/Moscow",
        layers=[
            {
                "name": "Rotation",
                "users": ["bob", "dave"],
                "start": datetime(2026, 5, 1, 6, 0, tzinfo=UTC),  # 09:00 in Moscow
                "shift": {"every": 1, "unit": "weeks"},
                "restrictions": [],
            }
        ],
    )
    oncall.override_add(
        principal=Principal.for_user(alice),
        schedule=schedule,
        username="alice",
        start=datetime(2026, 6, 3, 18, 0, tzinfo=UTC),
        end=datetime(2026, 6, 4, 6, 0, tzinfo=UTC),
        now=NOW,
    )
    return schedule


def token_for(api, user) -> str:
    answer = api(user).post("/api/v1/me/calendar-token/")
    assert answer.status_code == 201
    assert answer.json()["url"] == f"http://testserver/api/v1/me/calendar.ics?token={answer.json()['token']}"
    return answer.json()["token"]


def feed(client, path, token):
    return client.get(path, {"token": token}, HTTP_ACCEPT="text/calendar")


def both_parsers(body: bytes) -> list[tuple[str, datetime, datetime]]:
    """The events as (summary, start, end), read by icalendar; vobject must read the same."""
    by_icalendar = [
        (str(e["summary"]), e.decoded("dtstart"), e.decoded("dtend"))
        for e in icalendar.Calendar.from_ical(body).walk("VEVENT")
    ]
    by_vobject = [
        (e.summary.value, e.dtstart.value, e.dtend.value)
        for e in vobject.readOne(body.decode()).contents.get("vevent", [])
    ]
    assert by_vobject == by_icalendar
    return by_icalendar


def test_a_schedules_feed_shows_everyones_shifts_and_the_overrides(api, client, nights, carol):
    token = token_for(api, carol)  # a viewer of the brand may subscribe
    answer = feed(client, f"/api/v1/schedules/{nights.pk}/calendar.ics", token)
    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/calendar; charset=utf-8"
    events = both_parsers(answer.content)
    week = [
        (summary, start.strftime("%m-%d %H:%M"), end.strftime("%m-%d %H:%M"))
        for summary, start, end in events
        if datetime(2026, 5, 29, tzinfo=UTC) <= start < datetime(2026, 6, 6, tzinfo=UTC)
    ]
    assert week == [  # UTC; 06:00 is the 09:00 hand-off in Moscow
        ("bob on call", "05-29 06:00", "06-03 18:00"),
        ("alice on call (override)", "06-03 18:00", "06-04 06:00"),
        ("bob on call", "06-04 06:00", "06-05 06:00"),
        ("dave on call", "06-05 06:00", "06-12 06:00"),
    ]
    # The window: from 14 days before today's UTC midnight to 90 days after it.
    assert events[0][1:] == (datetime(2026, 5, 18, tzinfo=UTC), datetime(2026, 5, 22, 6, tzinfo=UTC))
    assert events[-1][2] == datetime(2026, 8, 30, tzinfo=UTC)

    parsed = icalendar.Calendar.from_ical(answer.content)
    assert str(parsed["x-wr-calname"]) == "On call: Nights"
    uids = [str(e["uid"]) for e in parsed.walk("VEVENT")]
    assert len(set(uids)) == len(uids)
    override = next(e for e in parsed.walk("VEVENT") if str(e["summary"]).startswith("alice"))
    assert override.get("categories").cats == ["override"]
    assert "Europe/Moscow: 2026-06-03 21:00 – 2026-06-04 09:00" in str(override["description"])
    # Fetched again an hour later, the same shifts keep their UIDs: calendars update, not duplicate.
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        again = feed(client, f"/api/v1/schedules/{nights.pk}/calendar.ics", token).content
    assert [str(e["uid"]) for e in icalendar.Calendar.from_ical(again).walk("VEVENT")] == uids


def test_a_persons_feed_has_their_own_shifts_only(api, client, nights, bob):
    events = both_parsers(feed(client, "/api/v1/me/calendar.ics", token_for(api, bob)).content)
    assert {summary for summary, _start, _end in events} == {"On call: Nights, Acme Coffee"}
    june = [(a.strftime("%m-%d %H:%M"), b.strftime("%m-%d %H:%M")) for _s, a, b in events if a.month == 6][:2]
    assert june == [("06-04 06:00", "06-05 06:00"), ("06-12 06:00", "06-19 06:00")]


def test_the_override_shows_in_the_feed_of_the_person_taking_it(api, client, nights, alice):
    events = both_parsers(feed(client, "/api/v1/me/calendar.ics", token_for(api, alice)).content)
    assert events == [
        (
            "On call: Nights, Acme Coffee (override)",
            datetime(2026, 6, 3, 18, tzinfo=UTC),
            datetime(2026, 6, 4, 6, tzinfo=UTC),
        )
    ]


def test_the_feed_speaks_the_persons_language(api, client, nights, bob):
    Profile.objects.create(user=bob, language="ru")
    events = both_parsers(feed(client, "/api/v1/me/calendar.ics", token_for(api, bob)).content)
    assert events[0][0] == "Дежурство: Nights, Acme Coffee"


def test_a_new_token_revokes_the_old_and_delete_revokes_it(api, client, nights, bob):
    old = token_for(api, bob)
    new = token_for(api, bob)
    assert feed(client, "/api/v1/me/calendar.ics", old).status_code == 404
    assert feed(client, "/api/v1/me/calendar.ics", new).status_code == 200
    assert CalendarFeed.objects.get(user=bob).token_hash == CalendarFeed.digest(new)  # stored hashed only
    assert new not in str(CalendarFeed.objects.values_list())
    assert api(bob).delete("/api/v1/me/calendar-token/").status_code == 204
    assert feed(client, "/api/v1/me/calendar.ics", new).status_code == 404
    assert feed(client, f"/api/v1/schedules/{nights.pk}/calendar.ics", new).status_code == 404


@pytest.mark.parametrize("token", ["wrong", "x" * 43, "", None])
def test_a_wrong_or_missing_token_is_a_404(client, nights, token, api, bob):
    token_for(api, bob)
    query = {} if token is None else {"token": token}
    for path in ("/api/v1/me/calendar.ics", f"/api/v1/schedules/{nights.pk}/calendar.ics"):
        answer = client.get(path, query)
        assert answer.status_code in ((400,) if token == "" else (404,)), (
            answer.content
        )  # ?token= : empty is a 400
        assert answer["Content-Type"] == "application/json"


def test_another_brands_schedule_is_a_404_for_the_feed(api, client, nights, mallory, globex):
    token = token_for(api, mallory)
    assert feed(client, f"/api/v1/schedules/{nights.pk}/calendar.ics", token).status_code == 404
    assert feed(client, "/api/v1/schedules/999999/calendar.ics", token).status_code == 404
    events = both_parsers(feed(client, "/api/v1/me/calendar.ics", token).content)
    assert events == []  # mallory is on no acme schedule, and sees none of it


def test_a_person_who_left_the_brand_loses_its_schedule_feed(api, client, nights, carol):
    token = token_for(api, carol)
    carol.memberships.all().delete()
    assert feed(client, f"/api/v1/schedules/{nights.pk}/calendar.ics", token).status_code == 404


def test_the_token_is_masked_wherever_the_request_line_is_logged():
    seen = {}

    def view(request):
        seen["token"] = request.GET.get("token")
        return None

    request = RequestFactory().get("/api/v1/me/calendar.ics", {"token": "s3cret", "x": "1"})
    request.META["RAW_URI"] = request.META["REQUEST_URI"] = "/api/v1/me/calendar.ics?token=s3cret&x=1"
    feeds.CalendarTokenMiddleware(view)(request)
    assert seen["token"] == "s3cret"  # the view still reads it
    assert request.META["RAW_URI"] == "/api/v1/me/calendar.ics?token={token}&x=1"
    assert request.META["REQUEST_URI"] == "/api/v1/me/calendar.ics?token={token}&x=1"
    assert request.META["QUERY_STRING"] == "token={token}&x=1"
    assert "s3cret" not in str(request.META)
