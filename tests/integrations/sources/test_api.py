"""`…/brands/{slug}/sources/` (API.md, "Integrations"): managers only, credentials write-only."""

import pytest

from integrations.sources import credentials
from integrations.sources.models import Source

from .conftest import BA_TOKEN, refreshed

URL = "/api/v1/brands/acme/sources/"


def detail(source_id):
    return f"{URL}{source_id}/"


def ba_body(**extra):
    return {
        "kind": "brand_analytics",
        "name": "BA main",
        "query": "12505867",
        "credentials": BA_TOKEN,
        **extra,
    }


@pytest.fixture
def created(api, alice):
    answer = api(alice).post(URL, ba_body(), format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def test_a_manager_adds_a_source_and_reads_it_back_without_its_credentials(api, alice, created):
    assert created["kind"] == "brand_analytics" and created["query"] == "12505867"
    assert created["has_credentials"] is True and created["status"] == "pending"
    assert created["interval_seconds"] == 300 and created["enabled"] is True
    assert created["next_poll_at"] is not None
    for field in ("last_polled_at", "last_cursor", "last_error", "mentions_received"):
        assert field in created
    row = Source.all_brands.get(pk=created["id"])
    assert row.credentials != BA_TOKEN and credentials.unseal(row.credentials) == BA_TOKEN
    for answer in (api(alice).get(URL), api(alice).get(detail(created["id"]))):
        assert answer.status_code == 200
        assert BA_TOKEN not in answer.content.decode()
        assert row.credentials not in answer.content.decode()
        assert "credentials" not in (answer.json().get("results") or [answer.json()])[0]


def test_patch_changes_what_was_sent_and_keeps_the_credentials(api, alice, created):
    answer = api(alice).patch(detail(created["id"]), {"interval_seconds": 600, "name": "BA"}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["interval_seconds"] == 600 and answer.json()["name"] == "BA"
    assert credentials.unseal(Source.all_brands.get(pk=created["id"]).credentials) == BA_TOKEN
    answer = api(alice).patch(detail(created["id"]), {"credentials": "new-token"}, format="json")
    assert "new-token" not in answer.content.decode()
    assert credentials.unseal(Source.all_brands.get(pk=created["id"]).credentials) == "new-token"


def test_a_new_query_starts_over_and_disabling_stops_the_timer(api, alice, created):
    Source.all_brands.filter(pk=created["id"]).update(last_cursor="1700000000", poll_token="abc")
    answer = api(alice).patch(detail(created["id"]), {"query": "999"}, format="json")
    row = Source.all_brands.get(pk=created["id"])
    assert answer.status_code == 200 and row.last_cursor == "" and row.poll_token == ""
    api(alice).patch(detail(created["id"]), {"enabled": False}, format="json")
    row = refreshed(row)
    assert row.next_poll_at is None and row.status == "disabled"
    api(alice).patch(detail(created["id"]), {"enabled": True}, format="json")
    assert refreshed(row).next_poll_at is not None


def test_delete(api, alice, created):
    assert api(alice).delete(detail(created["id"])).status_code == 204
    assert not Source.all_brands.filter(pk=created["id"]).exists()
    assert api(alice).get(detail(created["id"])).status_code == 404


def test_only_the_brands_managers(api, alice, bob, carol, mallory, created, key_client):
    assert api(bob).get(URL).status_code == 403
    assert api(carol).post(URL, ba_body(name="x"), format="json").status_code == 403
    assert api(mallory).get(URL).status_code == 404
    assert api(mallory).get(detail(created["id"])).status_code == 404
    assert api(mallory).delete(detail(created["id"])).status_code == 404
    assert api(None).get(URL).status_code == 401
    assert key_client.get(URL).status_code == 403
    assert Source.all_brands.filter(pk=created["id"]).exists()


def test_another_brands_source_is_a_404_under_this_brand(api, alice, mallory, globex):
    theirs = api(mallory).post("/api/v1/brands/globex/sources/", ba_body(), format="json").json()
    assert api(alice).get(detail(theirs["id"])).status_code == 404
    assert api(alice).patch(detail(theirs["id"]), {"name": "mine"}, format="json").status_code == 404


BAD = {
    "unknown tool": ({"kind": "brandwatch"}, "kind"),
    "unknown field": ({"colour": "red"}, "colour"),
    "theme id with spaces": ({"query": "12 505"}, "query"),
    "talkwalker collector id": ({"kind": "talkwalker", "query": "Bad Collector"}, "query"),
    "feed on loopback": ({"kind": "json_feed", "query": "http://127.0.0.1/feed"}, "query"),
    "feed not a URL": ({"kind": "json_feed", "query": "feed please"}, "query"),
    "too often": ({"interval_seconds": 5}, "interval_seconds"),
    "no token for a tool that needs one": ({"credentials": ""}, "credentials"),
    "token with a newline": ({"credentials": "abc\ndef"}, "credentials"),
    "name with NUL": ({"name": "BA\x00"}, "name"),
    "interval not a number": ({"interval_seconds": "often"}, "interval_seconds"),
}


@pytest.mark.parametrize(("change", "field"), BAD.values(), ids=BAD.keys())
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(api, alice, change, field):
    answer = api(alice).post(URL, ba_body(**change), format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()
    assert Source.all_brands.count() == 0


def test_the_same_name_twice_is_a_400(api, alice, created):
    answer = api(alice).post(URL, ba_body(), format="json")
    assert answer.status_code == 400 and "name" in answer.json()


def test_the_list_costs_a_fixed_number_of_queries(api, alice, django_assert_max_num_queries):
    client = api(alice)
    for n in range(15):
        client.post(URL, ba_body(name=f"BA {n}"), format="json")
    with django_assert_max_num_queries(8):
        answer = client.get(URL)
    assert answer.json()["count"] == 15


def test_the_admin_never_shows_the_token(client, alice, created, root):
    client.force_login(root)
    row = Source.all_brands.get(pk=created["id"])
    for url in ("/admin/integrations/source/", f"/admin/integrations/source/{row.pk}/change/"):
        page = client.get(url)
        assert page.status_code == 200
        assert BA_TOKEN not in page.content.decode() and row.credentials not in page.content.decode()


def test_the_admin_saves_through_the_service(client, root, acme):
    client.force_login(root)
    page = client.post(
        "/admin/integrations/source/add/",
        {
            "brand": acme.pk,
            "kind": "talkwalker",
            "name": "TW",
            "query": "acme_collector",
            "interval_seconds": 300,
            "enabled": "on",
            "new_credentials": "tw-admin-token",
        },
    )
    assert page.status_code == 302, page.content.decode()[:2000]
    row = Source.all_brands.get(name="TW")
    assert credentials.unseal(row.credentials) == "tw-admin-token" and row.next_poll_at is not None
    refused = client.post(
        "/admin/integrations/source/add/",
        {"brand": acme.pk, "kind": "talkwalker", "name": "TW2", "query": "Bad Id", "interval_seconds": 300},
    )
    assert refused.status_code == 200 and not Source.all_brands.filter(name="TW2").exists()


def test_a_manager_sees_only_their_brands_sources_in_the_admin(client, alice, created, mallory):
    mallory.is_staff = True
    mallory.save()
    from django.contrib.auth.models import Permission

    mallory.user_permissions.add(*Permission.objects.filter(codename__endswith="_source"))
    client.force_login(mallory)
    assert client.get(f"/admin/integrations/source/{created['id']}/change/").status_code in (302, 404)
    assert "BA main" not in client.get("/admin/integrations/source/").content.decode()
