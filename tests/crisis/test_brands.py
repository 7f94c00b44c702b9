"""Brands, members and integration keys."""

from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from crisis.models import BrandKey, Membership


def test_brand_list_shows_only_my_brands(api, alice, mallory, root):
    assert [b["slug"] for b in api(alice).get("/api/v1/brands/").data["results"]] == ["acme"]
    assert api(alice).get("/api/v1/brands/").data["results"][0]["role"] == "manager"
    assert {b["slug"] for b in api(root).get("/api/v1/brands/").data["results"]} == {"acme", "globex"}


def test_only_superusers_create_brands(api, alice, root):
    assert (
        api(alice).post("/api/v1/brands/", {"slug": "initech", "name": "Initech"}, format="json").status_code
        == 403
    )
    response = api(root).post("/api/v1/brands/", {"slug": "initech", "name": "Initech"}, format="json")
    assert response.status_code == 201
    again = api(root).post("/api/v1/brands/", {"slug": "initech", "name": "Initech"}, format="json")
    assert again.status_code == 400
    assert "slug" in again.data


def test_a_superuser_creates_an_account_with_a_password(api, root, acme):
    response = api(root).post(
        "/api/v1/brands/acme/members/",
        {
            "username": "erin",
            "role": "responder",
            "email": "erin@example.com",
            "password": "long-enough-passphrase-42",
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.data == {
        "username": "erin",
        "email": "erin@example.com",
        "role": "responder",
        "is_executive": False,
        "created_at": response.data["created_at"],
    }
    login = APIClient().post(
        "/api/v1/auth/token/", {"username": "erin", "password": "long-enough-passphrase-42"}, format="json"
    )
    assert login.status_code == 200


def test_weak_password_is_400_and_creates_nobody(api, root, acme):
    response = api(root).post(
        "/api/v1/brands/acme/members/",
        {"username": "erin", "role": "responder", "password": "123"},
        format="json",
    )
    assert response.status_code == 400
    assert "password" in response.data
    assert not get_user_model().objects.filter(username="erin").exists()


def test_a_superuser_attaches_any_account_but_sets_no_new_password(api, root, mallory, acme):
    changed = api(root).post(
        "/api/v1/brands/acme/members/",
        {"username": "mallory", "role": "viewer", "password": "hijack-attempt-123456"},
        format="json",
    )
    assert changed.status_code == 400
    mallory.refresh_from_db()
    assert mallory.check_password("x-mallory")
    added = api(root).post(
        "/api/v1/brands/acme/members/", {"username": "mallory", "role": "viewer"}, format="json"
    )
    assert added.status_code == 201
    again = api(root).post(
        "/api/v1/brands/acme/members/", {"username": "mallory", "role": "responder"}, format="json"
    )
    assert again.status_code == 201
    assert Membership.all_brands.get(user=mallory, brand__slug="acme").role == "responder"


def test_remove_member_and_keep_the_last_manager(api, alice, bob):
    client = api(alice)
    assert client.delete("/api/v1/brands/acme/members/bob/").status_code == 204
    assert client.delete("/api/v1/brands/acme/members/bob/").status_code == 404
    last = client.delete("/api/v1/brands/acme/members/alice/")
    assert last.status_code == 409
    demote = client.post(
        "/api/v1/brands/acme/members/", {"username": "alice", "role": "viewer"}, format="json"
    )
    assert demote.status_code == 409
    assert Membership.all_brands.get(user=alice).role == "manager"


def test_integration_keys_are_shown_once_stored_hashed_and_revocable(api, alice):
    client = api(alice)
    issued = client.post("/api/v1/brands/acme/keys/", {"name": "brandwatch"}, format="json")
    assert issued.status_code == 201
    plain = issued.data["key"]
    assert plain.startswith(issued.data["prefix"] + ".")
    stored = BrandKey.all_brands.get(pk=issued.data["id"])
    assert plain not in stored.hashed_key and stored.hashed_key.startswith("sha512$$")
    listed = client.get("/api/v1/brands/acme/keys/").data["results"]
    assert [k["name"] for k in listed] == ["brandwatch"]
    assert "key" not in listed[0]

    tool = APIClient()
    tool.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain}")
    assert tool.post("/api/v1/incidents/", {"title": "t"}, format="json").status_code == 201
    assert client.delete(f"/api/v1/brands/acme/keys/{stored.pk}/").status_code == 204
    assert tool.post("/api/v1/incidents/", {"title": "t"}, format="json").status_code == 401
    assert client.get("/api/v1/brands/acme/keys/").data["results"] == []


def test_a_key_cannot_be_revoked_through_another_brand(api, mallory, acme_key):
    response = api(mallory).delete(f"/api/v1/brands/globex/keys/{acme_key.pk}/")
    assert response.status_code == 404
    acme_key.refresh_from_db()
    assert acme_key.revoked_at is None
