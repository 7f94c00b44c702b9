"""`GET|PATCH /api/v1/me/` and a brand's `time_zone` (API.md, "Brands, members, policies")."""

import pytest

from crisis import timezones
from crisis.models import Brand, Profile


def test_a_brand_has_a_time_zone_utc_unless_set(api, alice, acme):
    answer = api(alice).get("/api/v1/brands/acme/")
    assert answer.status_code == 200
    assert answer.data["time_zone"] == "UTC" and answer.data["language"] == "en"


def test_a_manager_patches_the_brand_zone_and_language(api, alice, acme):
    answer = api(alice).patch(
        "/api/v1/brands/acme/", {"time_zone": "Europe/Moscow", "language": "ru"}, format="json"
    )
    assert answer.status_code == 200, answer.data
    assert (answer.data["time_zone"], answer.data["language"]) == ("Europe/Moscow", "ru")
    acme.refresh_from_db()
    assert (acme.time_zone, acme.language, acme.name) == ("Europe/Moscow", "ru", "Acme Coffee")


@pytest.mark.parametrize(
    "body,field",
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"time_zone": "localtime"}, "time_zone"),  # the host's setting, not a zone
        ({"time_zone": ""}, "time_zone"),
        ({"time_zone": "Europe/Moscow\x00"}, "time_zone"),
        ({"time_zone": 3}, "time_zone"),
        ({"language": "fr"}, "language"),
        ({"timezone": "UTC"}, "timezone"),  # a typo: an unknown field
        ({"slug": "other"}, "slug"),  # not changeable: unknown here
    ],
)
def test_bad_brand_patches_are_400_naming_the_field_and_change_nothing(api, alice, acme, body, field):
    answer = api(alice).patch("/api/v1/brands/acme/", body, format="json")
    assert answer.status_code == 400
    assert field in answer.data
    acme.refresh_from_db()
    assert (acme.slug, acme.time_zone, acme.language) == ("acme", "UTC", "en")


@pytest.mark.parametrize("who", ["carol", "bob"])
def test_viewers_and_responders_cannot_patch_a_brand(api, acme, carol, bob, who):
    user = {"carol": carol, "bob": bob}[who]
    answer = api(user).patch("/api/v1/brands/acme/", {"time_zone": "Asia/Tokyo"}, format="json")
    assert answer.status_code == 403
    acme.refresh_from_db()
    assert acme.time_zone == "UTC"


def test_another_brand_is_404_and_a_key_403(api, mallory, acme, key_client):
    assert api(mallory).patch("/api/v1/brands/acme/", {"time_zone": "UTC"}, format="json").status_code == 404
    assert key_client.patch("/api/v1/brands/acme/", {"time_zone": "UTC"}, format="json").status_code == 403


def test_a_superuser_creates_a_brand_in_a_zone(api, root):
    answer = api(root).post(
        "/api/v1/brands/", {"slug": "kyiv", "name": "Kyiv Tea", "time_zone": "Europe/Kyiv"}, format="json"
    )
    assert answer.status_code == 201, answer.data
    assert Brand.objects.get(slug="kyiv").time_zone == "Europe/Kyiv"
    bad = api(root).post("/api/v1/brands/", {"slug": "x", "name": "X", "time_zone": "Nowhere"}, format="json")
    assert bad.status_code == 400 and "time_zone" in bad.data


def test_me_shows_my_account_with_nothing_chosen(api, bob):
    bob.email = "bob@acme.test"
    bob.save()
    answer = api(bob).get("/api/v1/me/")
    assert answer.status_code == 200
    assert answer.data == {"username": "bob", "email": "bob@acme.test", "language": "", "time_zone": ""}


def test_i_choose_my_zone_and_language_and_go_back_to_the_brand(api, bob):
    client = api(bob)
    answer = client.patch("/api/v1/me/", {"time_zone": "Asia/Almaty", "language": "ru"}, format="json")
    assert answer.status_code == 200, answer.data
    assert (answer.data["time_zone"], answer.data["language"]) == ("Asia/Almaty", "ru")
    assert client.get("/api/v1/me/").data["time_zone"] == "Asia/Almaty"
    assert client.patch("/api/v1/me/", {"time_zone": ""}, format="json").data["time_zone"] == ""
    profile = Profile.objects.get(user=bob)
    assert (profile.time_zone, profile.language) == ("", "ru")


def test_i_change_my_email(api, bob):
    answer = api(bob).patch("/api/v1/me/", {"email": "bob@new.test"}, format="json")
    assert answer.status_code == 200 and answer.data["email"] == "bob@new.test"
    bob.refresh_from_db()
    assert bob.email == "bob@new.test"


@pytest.mark.parametrize(
    "body,field",
    [
        ({"time_zone": "Europe/Atlantis"}, "time_zone"),
        ({"time_zone": "UTC+3"}, "time_zone"),
        ({"language": "de"}, "language"),
        ({"email": "not an address"}, "email"),
        ({"username": "root"}, "username"),
        ({"is_superuser": True}, "is_superuser"),
        ({"timezone": "UTC"}, "timezone"),
    ],
)
def test_bad_me_patches_are_400_naming_the_field_and_change_nothing(api, bob, body, field):
    answer = api(bob).patch("/api/v1/me/", body, format="json")
    assert answer.status_code == 400
    assert field in answer.data
    bob.refresh_from_db()
    assert (bob.username, bob.email, bob.is_superuser) == ("bob", "", False)
    assert not Profile.objects.filter(user=bob).exists()


def test_the_username_is_refused_with_a_reason(api, bob):
    answer = api(bob).patch("/api/v1/me/", {"username": "robert"}, format="json")
    assert answer.data["username"] == ["A username cannot be changed."]


def test_me_is_for_people_only(api, key_client):
    assert api(None).get("/api/v1/me/").status_code == 401
    # An integration key is a brand's tool, not a person: like every endpoint but filing, 403.
    assert key_client.get("/api/v1/me/").status_code == 403
    assert key_client.patch("/api/v1/me/", {"time_zone": "UTC"}, format="json").status_code == 403


def test_the_zone_names_are_iana_and_not_the_hosts_own():
    assert {"UTC", "Europe/Moscow", "America/New_York", "Asia/Kolkata"} <= timezones.names()
    assert not {"localtime", "Factory", "posixrules"} & timezones.names()
    offered = [name for _region, zones in timezones.grouped_choices() for name, _label in zones]
    assert offered[0] == "UTC" and "Europe/Moscow" in offered and "US/Eastern" not in offered
    assert all(name in timezones.names() for name in offered)
