"""Token login and logout; tokens are stored hashed and expire."""

import io
from datetime import timedelta

import time_machine
from django.contrib.auth.hashers import PBKDF2PasswordHasher
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


class QuickPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1


class TestTokensEndWithTheCredentials:
    """A password change or a deactivation revokes all the person's tokens, whatever the path."""

    def tokens_of(self, user, count=2) -> list[APIClient]:
        clients = []
        for _ in range(count):
            _row, token = AuthToken.objects.create(user=user)
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            assert client.get("/api/v1/brands/").status_code == 200
            clients.append(client)
        return clients

    def assert_revoked(self, user, clients):
        assert not AuthToken.objects.filter(user=user).exists()
        assert [client.get("/api/v1/brands/").status_code for client in clients] == [401] * len(clients)

    def test_set_password_and_save(self, bob, dave):
        clients, kept = self.tokens_of(bob), self.tokens_of(dave)
        bob.set_password("a-new-one")
        bob.save()
        self.assert_revoked(bob, clients)
        assert [client.get("/api/v1/brands/").status_code for client in kept] == [200, 200]

    def test_changepassword_command(self, bob, monkeypatch):
        from django.contrib.auth.management.commands import changepassword
        from django.core.management import call_command

        clients = self.tokens_of(bob)
        monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="": "Another-pass-42")
        call_command("changepassword", "bob", stdout=io.StringIO())
        self.assert_revoked(bob, clients)

    def test_admin_password_form_and_deactivation(self, bob, root, client):
        clients = self.tokens_of(bob)
        client.force_login(root)
        response = client.post(
            f"/admin/auth/user/{bob.pk}/password/",
            {"password1": "Another-pass-42", "password2": "Another-pass-42", "usable_password": "true"},
        )
        assert response.status_code == 302, response.content
        self.assert_revoked(bob, clients)

        clients = self.tokens_of(bob)
        bob.is_active = False
        bob.save(update_fields=["is_active"])
        self.assert_revoked(bob, clients)

    def test_a_login_or_a_hash_upgrade_revokes_nothing(self, bob, settings):
        clients = self.tokens_of(bob)
        assert login("bob", "x-bob").status_code == 200  # saves last_login
        # A new preferred hasher: the next login re-hashes the same password.
        settings.PASSWORD_HASHERS = [
            "tests.crisis.test_auth.QuickPBKDF2PasswordHasher",
            "django.contrib.auth.hashers.MD5PasswordHasher",
        ]
        old_hash = bob.password
        assert login("bob", "x-bob").status_code == 200
        bob.refresh_from_db()
        assert bob.password != old_hash
        assert [client.get("/api/v1/brands/").status_code for client in clients] == [200, 200]
