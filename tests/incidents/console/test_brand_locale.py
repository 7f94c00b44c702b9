"""A brand's language and time zone on its settings page (the console's side of PATCH /brands/{slug}/)."""

import pytest
from django.test import Client

from crisis.models import Brand


@pytest.fixture
def web():
    def _login(user):
        client = Client()
        client.force_login(user)
        return client

    return _login


def test_a_manager_sets_the_brand_zone_and_language(web, alice, acme):
    page = web(alice).get("/brands/acme/settings/").content.decode()
    assert 'id="brand-locale-form"' in page and '<option value="UTC" selected>' in page
    saved = web(alice).post(
        "/brands/acme/settings/locale/", {"language": "ru", "time_zone": "Asia/Yekaterinburg"}
    )
    assert saved.status_code == 302
    acme.refresh_from_db()
    assert (acme.language, acme.time_zone) == ("ru", "Asia/Yekaterinburg")
    assert (
        '<option value="Asia/Yekaterinburg" selected>'
        in web(alice).get("/brands/acme/settings/").content.decode()
    )


def test_an_alias_set_through_the_api_stays_selected(web, alice, acme):
    Brand.objects.filter(pk=acme.pk).update(time_zone="US/Eastern")
    assert '<option value="US/Eastern" selected>' in web(alice).get("/brands/acme/settings/").content.decode()


@pytest.mark.parametrize(
    "posted",
    [
        {"language": "en", "time_zone": "Mars/Base"},
        {"language": "xx", "time_zone": "UTC"},
        {"language": "en", "time_zone": "localtime"},
        {"language": "en"},
        {"language": "en", "time_zone": "UTC\x00"},
    ],
)
def test_a_hand_made_bad_post_says_why_and_changes_nothing(web, alice, acme, posted):
    response = web(alice).post("/brands/acme/settings/locale/", posted, follow=True)
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    acme.refresh_from_db()
    assert (acme.language, acme.time_zone) == ("en", "UTC")


@pytest.mark.parametrize("who,status", [("bob", 403), ("carol", 403), ("mallory", 404)])
def test_only_the_brands_managers(web, acme, bob, carol, mallory, who, status):
    user = {"bob": bob, "carol": carol, "mallory": mallory}[who]
    response = web(user).post("/brands/acme/settings/locale/", {"language": "ru", "time_zone": "UTC"})
    assert response.status_code == status
    acme.refresh_from_db()
    assert acme.language == "en"
