"""
The schedules API (API.md, "On-call schedules"): who may read and write, what is refused
(400s naming the field), tenancy (another brand's schedule is a 404), and fixed query counts.

acme: alice (manager), bob and dave (responders), carol (viewer); globex: mallory (manager).
"""

from datetime import UTC, datetime

import pytest
import time_machine

from crisis.models import Schedule, ScheduleLayer, ScheduleOverride
from tests.conftest import make_user

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
URL = "/api/v1/brands/acme/schedules/"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def body(**changes) -> dict:
    schedule = {
        "name": "Night duty",
        "time_zone": "Europe/Berlin",
        "layers": [
            {
                "name": "Rotation",
                "users": ["bob", "dave"],
                "start": "2026-06-01T07:00:00Z",  # 09:00 in Berlin
                "shift": {"every": 1, "unit": "days"},
                "restrictions": [],
            }
        ],
    }
    schedule.update(changes)
    return schedule


def layer(**changes) -> dict:
    found = body()["layers"][0]
    found.update(changes)
    return found


@pytest.fixture
def schedule(api, alice, bob, dave):
    answer = api(alice).post(URL, body(), format="json")
    assert answer.status_code == 201, answer.json()
    return answer.json()


def test_a_manager_creates_a_schedule_and_everyone_in_the_brand_reads_it(api, schedule, carol, bob):
    assert schedule["name"] == "Night duty"
    assert schedule["time_zone"] == "Europe/Berlin"
    assert schedule["layers"] == [
        {
            "name": "Rotation",
            "users": ["bob", "dave"],
            "start": "2026-06-01T07:00:00Z",
            "shift": {"every": 1, "unit": "days"},
            "restrictions": [],
        }
    ]
    assert schedule["overrides"] == []
    for reader in (carol, bob):
        assert api(reader).get(f"{URL}{schedule['id']}/").json() == schedule
        assert api(reader).get(URL).json()["results"] == [schedule]


def test_who_is_on_call_and_the_shifts(api, schedule, carol):
    detail = f"{URL}{schedule['id']}"
    on_call = api(carol).get(f"{detail}/on-call/", {"at": "2026-06-02T06:59:59Z"}).json()
    assert on_call == {"at": "2026-06-02T06:59:59Z", "users": ["bob"]}
    assert api(carol).get(f"{detail}/on-call/", {"at": "2026-06-02T07:00:00Z"}).json()["users"] == ["dave"]
    assert api(carol).get(f"{detail}/on-call/", {"at": "2026-05-31T12:00:00Z"}).json()["users"] == []
    assert api(carol).get(f"{detail}/on-call/").json() == {"at": "2026-06-01T12:00:00Z", "users": ["bob"]}

    shifts = api(carol).get(
        f"{detail}/shifts/", {"since": "2026-06-01T00:00:00Z", "until": "2026-06-03T00:00:00Z"}
    )
    assert shifts.json() == {
        "since": "2026-06-01T00:00:00Z",
        "until": "2026-06-03T00:00:00Z",
        "time_zone": "Europe/Berlin",
        "shifts": [
            {
                "user": "bob",
                "start": "2026-06-01T07:00:00Z",
                "end": "2026-06-02T07:00:00Z",
                "layer": 1,
                "override": None,
            },
            {
                "user": "dave",
                "start": "2026-06-02T07:00:00Z",
                "end": "2026-06-03T00:00:00Z",
                "layer": 1,
                "override": None,
            },
        ],
    }
    default = api(carol).get(f"{detail}/shifts/").json()
    assert (default["since"], default["until"]) == ("2026-06-01T12:00:00Z", "2026-06-15T12:00:00Z")


def test_overrides_by_a_manager_or_the_person_taking_the_shift(api, schedule, alice, bob, dave, carol):
    detail = f"{URL}{schedule['id']}"
    taken = {"user": "dave", "start": "2026-06-01T13:00:00Z", "end": "2026-06-01T15:00:00Z"}
    by_manager = api(alice).post(f"{detail}/overrides/", taken, format="json")
    assert by_manager.status_code == 201
    assert by_manager.json() | {"id": 0} == {
        "id": 0,
        "user": "dave",
        "start": "2026-06-01T13:00:00Z",
        "end": "2026-06-01T15:00:00Z",
        "created_by": "alice",
        "created_at": "2026-06-01T12:00:00Z",
    }
    own = {"user": "bob", "start": "2026-06-03T07:00:00Z", "end": "2026-06-04T07:00:00Z"}
    assert api(bob).post(f"{detail}/overrides/", own, format="json").status_code == 201
    # A responder may not put someone else on call, a viewer not even themselves.
    assert api(bob).post(f"{detail}/overrides/", taken, format="json").status_code == 403
    viewer_own = {"user": "carol", "start": "2026-06-05T00:00:00Z", "end": "2026-06-05T01:00:00Z"}
    assert api(carol).post(f"{detail}/overrides/", viewer_own, format="json").status_code == 403

    assert api(carol).get(f"{detail}/on-call/", {"at": "2026-06-01T14:00:00Z"}).json()["users"] == ["dave"]
    shifts = api(carol).get(
        f"{detail}/shifts/", {"since": "2026-06-01T12:00:00Z", "until": "2026-06-01T16:00:00Z"}
    )
    assert [
        (s["user"], s["start"][11:16], s["end"][11:16], s["override"] is not None)
        for s in shifts.json()["shifts"]
    ] == [
        ("bob", "12:00", "13:00", False),
        ("dave", "13:00", "15:00", True),
        ("bob", "15:00", "16:00", False),
    ]
    listed = api(carol).get(f"{detail}/overrides/").json()["results"]
    assert [o["user"] for o in listed] == ["dave", "bob"]
    assert [o["user"] for o in api(carol).get(f"{detail}/").json()["overrides"]] == ["dave", "bob"]

    dave_override, bob_override = (o["id"] for o in listed)
    # Removing: the manager or the person who took it; not another responder, not a viewer.
    assert api(bob).delete(f"{detail}/overrides/{dave_override}/").status_code == 403
    assert api(carol).delete(f"{detail}/overrides/{bob_override}/").status_code == 403
    assert api(bob).delete(f"{detail}/overrides/{bob_override}/").status_code == 204
    assert api(alice).delete(f"{detail}/overrides/{dave_override}/").status_code == 204
    assert api(alice).delete(f"{detail}/overrides/{dave_override}/").status_code == 404
    assert not ScheduleOverride.all_brands.exists()


def test_viewers_and_responders_cannot_edit_schedules(api, schedule, carol, bob):
    detail = f"{URL}{schedule['id']}/"
    for caller in (carol, bob):
        assert api(caller).post(URL, body(name="Other"), format="json").status_code == 403
        assert api(caller).put(detail, body(name="Renamed"), format="json").status_code == 403
        assert api(caller).delete(detail).status_code == 403
    assert Schedule.all_brands.get().name == "Night duty"


def test_another_brands_schedule_is_a_404(api, schedule, mallory, globex):
    detail = f"{URL}{schedule['id']}"
    theirs = f"/api/v1/brands/globex/schedules/{schedule['id']}"
    client = api(mallory)
    for answer in (
        client.get(URL),
        client.get(f"{detail}/"),
        client.put(f"{detail}/", body(), format="json"),
        client.delete(f"{detail}/"),
        client.get(f"{detail}/on-call/"),
        client.get(f"{detail}/shifts/"),
        client.post(
            f"{detail}/overrides/",
            {"user": "mallory", "start": "2026-06-02T00:00:00Z", "end": "2026-06-03T00:00:00Z"},
            format="json",
        ),
        # Through their own brand's URL: the id is not theirs.
        client.get(f"{theirs}/"),
        client.get(f"{theirs}/on-call/"),
        client.delete(f"{theirs}/"),
    ):
        assert answer.status_code == 404, answer.json()
    assert Schedule.all_brands.count() == 1


def test_a_manager_replaces_the_layers_and_the_overrides_stay(api, schedule, alice):
    detail = f"{URL}{schedule['id']}"
    api(alice).post(
        f"{detail}/overrides/",
        {"user": "alice", "start": "2026-06-02T00:00:00Z", "end": "2026-06-02T01:00:00Z"},
        format="json",
    )
    weekly = layer(
        name="Weekly",
        users=["alice"],
        shift={"every": 1, "unit": "weeks"},
        restrictions=[{"days": ["fri", "mon"], "from": "22:00", "to": "06:00"}],
    )
    answer = api(alice).put(
        f"{detail}/", body(name="Nights", time_zone="Europe/Moscow", layers=[layer(), weekly]), format="json"
    )
    assert answer.status_code == 200, answer.json()
    got = answer.json()
    assert (got["name"], got["time_zone"]) == ("Nights", "Europe/Moscow")
    assert [lyr["name"] for lyr in got["layers"]] == ["Rotation", "Weekly"]
    assert got["layers"][1]["restrictions"] == [{"days": ["mon", "fri"], "from": "22:00", "to": "06:00"}]
    assert [o["user"] for o in got["overrides"]] == ["alice"]
    assert ScheduleLayer.all_brands.count() == 2


def test_an_unnamed_layer_is_numbered(api, alice, bob, dave):
    answer = api(alice).post(URL, body(layers=[layer(name=""), layer(name="")]), format="json")
    assert [lyr["name"] for lyr in answer.json()["layers"]] == ["Layer 1", "Layer 2"]


def test_deleting_a_schedule(api, schedule, alice):
    detail = f"{URL}{schedule['id']}/"
    assert api(alice).delete(detail).status_code == 204
    assert api(alice).get(detail).status_code == 404
    assert not ScheduleLayer.all_brands.exists()


BAD_SCHEDULES = {
    "unknown zone": (body(time_zone="Mars/Olympus"), "time_zone"),
    "no layers": (body(layers=[]), "layers"),
    "a non-member": (body(layers=[layer(users=["bob", "mallory"])]), "layers"),
    "a viewer (not a responder or manager)": (body(layers=[layer(users=["carol"])]), "layers"),
    "an unknown account": (body(layers=[layer(users=["nobody-here"])]), "layers"),
    "a restriction's time 24:00": (
        body(layers=[layer(restrictions=[{"days": ["mon"], "from": "09:00", "to": "24:00"}])]),
        "layers",
    ),
    "a restriction's time 9:00": (
        body(layers=[layer(restrictions=[{"days": ["mon"], "from": "9:00", "to": "18:00"}])]),
        "layers",
    ),
    "a restriction without days": (
        body(layers=[layer(restrictions=[{"days": [], "from": "09:00", "to": "18:00"}])]),
        "layers",
    ),
    "a restriction's unknown day": (
        body(layers=[layer(restrictions=[{"days": ["monday"], "from": "09:00", "to": "18:00"}])]),
        "layers",
    ),
    "a day twice": (
        body(layers=[layer(restrictions=[{"days": ["mon", "mon"], "from": "09:00", "to": "18:00"}])]),
        "layers",
    ),
    "a shift of 0": (body(layers=[layer(shift={"every": 0, "unit": "days"})]), "layers"),
    "a shift in months": (body(layers=[layer(shift={"every": 1, "unit": "months"})]), "layers"),
    "a start in the year 9999": (body(layers=[layer(start="9999-12-31T23:00:00Z")]), "layers"),
    "a start that is not a time": (body(layers=[layer(start="tomorrow")]), "layers"),
    "an unknown field": (body(colour="red"), "colour"),
    "an unknown layer field": (body(layers=[layer(colour="red")]), "layers"),
    "no name": (body(name=""), "name"),
    "users not a list": (body(layers=[layer(users="bob")]), "layers"),
}


@pytest.mark.parametrize(("sent", "field"), BAD_SCHEDULES.values(), ids=BAD_SCHEDULES.keys())
def test_bad_schedules_are_400s_naming_the_field(api, alice, bob, dave, carol, mallory, sent, field):
    answer = api(alice).post(URL, sent, format="json")
    assert answer.status_code == 400, answer.json()
    assert field in answer.json()
    assert not Schedule.all_brands.exists()


def test_a_second_schedule_of_the_same_name_is_a_400(api, schedule, alice):
    answer = api(alice).post(URL, body(), format="json")
    assert answer.status_code == 400
    assert "name" in answer.json()
    other = api(alice).post(URL, body(name="Other"), format="json").json()
    renamed = api(alice).put(f"{URL}{other['id']}/", body(), format="json")
    assert (renamed.status_code, list(renamed.json())) == (400, ["name"])


def test_a_refused_update_changes_nothing(api, schedule, alice):
    answer = api(alice).put(
        f"{URL}{schedule['id']}/", body(name="New", layers=[layer(users=["mallory-not-here"])]), format="json"
    )
    assert answer.status_code == 400
    assert api(alice).get(f"{URL}{schedule['id']}/").json() == schedule


BAD_OVERRIDES = {
    "end before start": (
        {"user": "bob", "start": "2026-06-02T10:00:00Z", "end": "2026-06-02T09:00:00Z"},
        "end",
    ),
    "end equal to start": (
        {"user": "bob", "start": "2026-06-02T10:00:00Z", "end": "2026-06-02T10:00:00Z"},
        "end",
    ),
    "already over": ({"user": "bob", "start": "2026-05-02T10:00:00Z", "end": "2026-05-02T11:00:00Z"}, "end"),
    "longer than a year": (
        {"user": "bob", "start": "2026-06-02T10:00:00Z", "end": "2027-07-02T11:00:00Z"},
        "end",
    ),
    "a non-member": (
        {"user": "mallory", "start": "2026-06-02T10:00:00Z", "end": "2026-06-02T11:00:00Z"},
        "user",
    ),
    "a viewer": ({"user": "carol", "start": "2026-06-02T10:00:00Z", "end": "2026-06-02T11:00:00Z"}, "user"),
    "no end": ({"user": "bob", "start": "2026-06-02T10:00:00Z"}, "end"),
    "an unknown field": (
        {"user": "bob", "start": "2026-06-02T10:00:00Z", "end": "2026-06-02T11:00:00Z", "why": "x"},
        "why",
    ),
}


@pytest.mark.parametrize(("sent", "field"), BAD_OVERRIDES.values(), ids=BAD_OVERRIDES.keys())
def test_bad_overrides_are_400s(api, schedule, alice, carol, mallory, sent, field):
    answer = api(alice).post(f"{URL}{schedule['id']}/overrides/", sent, format="json")
    assert answer.status_code == 400, answer.json()
    assert field in answer.json()
    assert not ScheduleOverride.all_brands.exists()


BAD_QUERIES = {
    "on-call at not a time": ("on-call", {"at": "now"}, "at"),
    "on-call at year 9999": ("on-call", {"at": "9999-12-31T23:59:59Z"}, "at"),
    "on-call unknown parameter": ("on-call", {"when": "2026-06-01T00:00:00Z"}, "when"),
    "shifts until before since": (
        "shifts",
        {"since": "2026-06-02T00:00:00Z", "until": "2026-06-01T00:00:00Z"},
        "until",
    ),
    "shifts over 93 days": (
        "shifts",
        {"since": "2026-01-01T00:00:00Z", "until": "2026-06-01T00:00:00Z"},
        "until",
    ),
    "shifts since year 1": ("shifts", {"since": "0001-01-01T00:00:00Z"}, "since"),
}


@pytest.mark.parametrize(("path", "query", "field"), BAD_QUERIES.values(), ids=BAD_QUERIES.keys())
def test_bad_queries_are_400s(api, schedule, carol, path, query, field):
    answer = api(carol).get(f"{URL}{schedule['id']}/{path}/", query)
    assert answer.status_code == 400, answer.json()
    assert field in answer.json()


def test_the_list_takes_a_fixed_number_of_queries(api, alice, bob, dave, django_assert_max_num_queries):
    client = api(alice)
    client.post(URL, body(name="First"), format="json")
    # Authentication (2), the brand, the count and the page, layers, places, overrides.
    with django_assert_max_num_queries(8):
        assert client.get(URL).status_code == 200
    for n in range(5):
        extra = make_user(f"on-call-{n}", alice.memberships.first().brand, "responder")
        created = client.post(
            URL,
            body(name=f"Schedule {n}", layers=[layer(users=["bob", extra.username]), layer(users=["dave"])]),
            format="json",
        ).json()
        client.post(
            f"{URL}{created['id']}/overrides/",
            {"user": "dave", "start": "2026-06-02T00:00:00Z", "end": "2026-06-03T00:00:00Z"},
            format="json",
        )
    with django_assert_max_num_queries(8):
        answer = client.get(URL)
    assert answer.json()["count"] == 6
    assert sum(len(s["overrides"]) for s in answer.json()["results"]) == 5
