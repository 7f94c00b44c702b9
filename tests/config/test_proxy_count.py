"""
Behind our TLS proxy (PROXY_COUNT=1) every client has its own address: the throttles (DRF's
NUM_PROXIES) and the login lockouts (django-axes) read the same one, so one client's failed
logins do not lock the others out.
"""

from pathlib import Path

import pytest
from axes.helpers import get_client_ip_address
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework.throttling import BaseThrottle

ROOT = Path(__file__).resolve().parent.parent.parent
PROXY = "10.0.0.2"  # every request arrives from the proxy


@pytest.fixture
def behind_one_proxy(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    cache.clear()
    yield
    cache.clear()


def client_at(address: str) -> APIClient:
    # The proxy appends the address it saw; what the client wrote itself comes before it.
    return APIClient(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"6.6.6.6, {address}")


def test_lockouts_and_throttles_read_the_same_client_address(behind_one_proxy, rf):
    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert get_client_ip_address(request) == BaseThrottle().get_ident(request) == "203.0.113.9"


def test_one_clients_failures_do_not_lock_out_another_behind_the_same_proxy(behind_one_proxy, settings, bob):
    settings.AXES_FAILURE_LIMIT = 3
    attacker, bob_at_home = client_at("203.0.113.9"), client_at("198.51.100.7")
    wrong = {"username": "bob", "password": "guess"}
    codes = [attacker.post("/api/v1/auth/token/", wrong, format="json").status_code for _ in range(3)]
    assert codes == [401, 401, 429]
    right = {"username": "bob", "password": "x-bob"}
    assert bob_at_home.post("/api/v1/auth/token/", right, format="json").status_code == 200
    assert attacker.post("/api/v1/auth/token/", right, format="json").status_code == 429


def test_without_a_proxy_the_forwarded_header_is_not_believed(settings, rf):
    request = rf.get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert get_client_ip_address(request) == BaseThrottle().get_ident(request) == "203.0.113.9"


@pytest.mark.parametrize("path", [".env.example", "README.md", "docs/operations.md"])
def test_the_setting_is_documented(path):
    assert "PROXY_COUNT" in (ROOT / path).read_text()
