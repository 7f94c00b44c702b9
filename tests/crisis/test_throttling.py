"""Throttles while their shared cache (Redis) does not answer: counted per process, never a 500."""

import logging
import time

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from crisis import throttling
from tests.live import free_port


@pytest.fixture
def dead_redis_cache(settings):
    """The production cache, pointed at a port where no Redis listens."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    yield
    throttling.counters.shared_down_until = 0.0
    throttling.counters.local.clear()


@pytest.fixture(autouse=True)
def _fresh_counters():
    throttling.counters.local.clear()
    yield
    throttling.counters.local.clear()


def test_budgets_hold_per_process_while_the_cache_is_down(dead_redis_cache, settings, api, bob, caplog):
    settings.API_THROTTLE_RATE = "3/min"
    client = api(bob)
    with caplog.at_level(logging.WARNING, logger="crisis.throttling"):
        started = time.monotonic()
        codes = [client.get("/api/v1/brands/").status_code for _ in range(4)]
        took = time.monotonic() - started
    assert codes == [200, 200, 200, 429]
    assert took < 2, took
    # One failed attempt, then the cache is left alone for a while: one warning, not one per request.
    assert caplog.text.count("the shared cache does not answer") == 1


def test_login_works_while_the_cache_is_down(dead_redis_cache, bob):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "bob", "password": "x-bob"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["token"]


def test_the_shared_cache_is_used_again_once_it_answers(settings, api, bob):
    settings.API_THROTTLE_RATE = "3/min"
    throttling.counters.shared_down_until = time.monotonic() - 1  # it was down; its wait is over
    cache.clear()
    client = api(bob)
    assert [client.get("/api/v1/brands/").status_code for _ in range(2)] == [200, 200]
    assert len(cache.get(f"throttle:api:user:{bob.pk}")) == 2  # counted in the shared cache
    assert throttling.counters.local.get(f"throttle:api:user:{bob.pk}") is None
