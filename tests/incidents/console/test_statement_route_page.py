"""
A brand's approval route for public statements, edited on its settings page: checked by the
API's own input (so the console and `PUT /brands/{slug}/statement-route/` agree), refusals
shown as sentences on the form with nothing saved, managers only.
"""

import pytest

from crisis.models import Profile, Role, Schedule
from incidents import statements
from tests.conftest import make_user

from .test_settings_forms import assert_sentences, errors_in

pytestmark = pytest.mark.django_db

URL = "/brands/acme/settings/statement-route/"


def route_post(*hops, initial=0):
    """Hops as (name, amount, unit, roles, users) or with a sixth item: delete it."""
    data = {
        "hops-TOTAL_FORMS": str(len(hops)),
        "hops-INITIAL_FORMS": str(initial),
        "hops-MIN_NUM_FORMS": "0",
        "hops-MAX_NUM_FORMS": "10",
    }
    for i, (name, amount, unit, roles, users, *delete) in enumerate(hops):
        data.update(
            {
                f"hops-{i}-name": name,
                f"hops-{i}-within": amount,
                f"hops-{i}-within_unit": unit,
                f"hops-{i}-roles": roles,
                f"hops-{i}-users": users,
            }
        )
        if delete:
            data[f"hops-{i}-DELETE"] = "on"
    return data


def test_a_manager_sets_the_route_and_sees_it_again(web, alice, erin, frank, acme):
    saved = web(alice).post(
        URL,
        route_post(("PR head", "15", "minutes", [], "erin"), ("Legal", "1", "hours", ["executive"], "")),
        follow=True,
    )
    assert "Approval route saved" in saved.content.decode()
    assert statements.route_of(acme.pk) == [
        {"name": "PR head", "roles": [], "users": ["erin"], "schedules": [], "within_seconds": 900},
        {"name": "Legal", "roles": ["executive"], "users": [], "schedules": [], "within_seconds": 3600},
    ]
    page = web(alice).get("/brands/acme/settings/").content.decode()
    assert 'name="hops-0-name" value="PR head"' in page and 'name="hops-0-users" value="erin"' in page
    assert 'name="hops-1-within" value="1"' in page  # 3600 s shows as 1 hour
    # The route the API reads is the one the page saved.
    assert web(alice).get("/api/v1/brands/acme/statement-route/").json()["hops"][1]["name"] == "Legal"


def test_the_new_hop_row_left_empty_is_ignored_and_a_hop_can_be_removed(web, alice, erin, acme):
    statements.statement_route_set(
        brand=acme,
        hops=[
            {"name": "PR head", "users": ["erin"], "within_seconds": 900},
            {"name": "Legal", "roles": ["executive"], "within_seconds": 1800},
        ],
    )
    data = route_post(
        ("PR head", "15", "minutes", [], "erin"),
        ("Legal", "30", "minutes", ["executive"], "", "delete"),
        ("", "", "minutes", [], ""),
        initial=2,
    )
    assert "Approval route saved" in web(alice).post(URL, data, follow=True).content.decode()
    assert [hop["name"] for hop in statements.route_of(acme.pk)] == ["PR head"]
    # Removing every hop clears the route: submitting is then refused until one is set.
    cleared = web(alice).post(URL, route_post(("PR head", "15", "minutes", [], "erin", "delete"), initial=1))
    assert cleared.status_code == 302 and statements.route_of(acme.pk) == []


@pytest.mark.parametrize(
    "hop, expected",
    [
        (("PR head", "15", "minutes", [], "zed"), "Not members of this brand: zed"),
        (("PR head", "15", "minutes", [], ""), "A hop must name at least one role, user or schedule."),
        (("", "15", "minutes", [], "erin"), "This field is required."),
        (("PR head", "0", "minutes", [], "erin"), "Choose more than zero."),
        (("PR head", "15", "fortnights", [], "erin"), "Select a valid choice."),
        (("PR head", "15", "minutes", ["owner"], "erin"), "Select a valid choice."),
    ],
)
def test_a_route_the_api_would_refuse_is_refused_on_the_form_and_nothing_is_saved(
    web, alice, erin, acme, hop, expected
):
    statements.statement_route_set(
        brand=acme, hops=[{"name": "Old", "users": ["erin"], "within_seconds": 60}]
    )
    refused = web(alice).post(URL, route_post(hop))
    assert refused.status_code == 400
    errors = errors_in(refused)
    assert_sentences(errors)
    assert any(expected in e for e in errors), errors
    assert [hop["name"] for hop in statements.route_of(acme.pk)] == ["Old"]


def test_a_hop_may_name_an_on_call_schedule_of_the_brand(web, alice, acme, globex):
    ours = Schedule.objects.create(brand=acme, name="Comms rota", time_zone="UTC")
    theirs = Schedule.objects.create(brand=globex, name="Not ours", time_zone="UTC")
    page = web(alice).get("/brands/acme/settings/").content.decode()
    assert "Comms rota" in page and "Not ours" not in page
    ok = web(alice).post(
        URL, {**route_post(("On call", "10", "minutes", [], "")), "hops-0-schedules": [ours.pk]}
    )
    assert ok.status_code == 302
    assert statements.route_of(acme.pk)[0]["schedules"] == [ours.pk]
    refused = web(alice).post(
        URL, {**route_post(("On call", "10", "minutes", [], "")), "hops-0-schedules": [theirs.pk]}
    )
    assert refused.status_code == 400 and statements.route_of(acme.pk)[0]["schedules"] == [ours.pk]


def test_only_the_brands_managers_set_it(web, bob, mallory, acme, erin):
    data = route_post(("PR head", "15", "minutes", [], "erin"))
    assert web(bob).post(URL, data).status_code == 403
    assert web(mallory).post(URL, data).status_code == 404
    assert web(bob).get(URL).status_code == 405
    assert statements.route_of(acme.pk) == []


def test_the_editor_speaks_russian(web, acme, erin):
    boss = make_user("boss", acme, Role.MANAGER)
    Profile.objects.update_or_create(user=boss, defaults={"language": "ru"})
    page = web(boss).get("/brands/acme/settings/").content.decode()
    assert "Маршрут согласования публичных заявлений" in page and "Сохранить маршрут" in page
