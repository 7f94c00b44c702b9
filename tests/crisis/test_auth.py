"""Token login and logout; tokens are stored hashed and expire."""

from datetime import timedelta

import time_machine
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient


def login(username, password):
    return APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
    )


def test_login_returns_an_expiring_token_stored_hashed(bob):
    response = login("bob", "x-bob")
    assert response.status_code == 200
    token = response.data["token"]
    row = AuthToken.objects.get(user=bob)
    assert token not in (row.digest, row.token_key)  # only a digest and a short prefix are kept
    assert row.expiry > timezone.now() + timedelta(hours=23)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/brands/").status_code == 200


def test_bad_credentials(bob):
    assert login("bob", "wrong").status_code == 401
    assert login("nobody", "x").status_code == 401
    assert APIClient().post("/api/v1/auth/token/", {"username": "bob"}, format="json").status_code == 400


def test_logout_revokes_the_token(bob):
    token = login("bob", "x-bob").data["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get("/api/v1/brands/").status_code == 401


def test_expired_token_is_refused(bob):
    token = login("bob", "x-bob").data["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert client.get("/api/v1/brands/").status_code == 401


def test_anonymous_is_401(db):
    response = APIClient().get("/api/v1/incidents/")
    assert response.status_code == 401
    assert response.data["code"] == "not_authenticated"
