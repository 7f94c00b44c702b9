"""
Request throttling: per caller for the API, per address and username for logins.

The counters live in the default cache, Redis in production, so that a budget holds
across web processes. While that cache does not answer, they are counted in this
process alone (a budget then holds per process, not across them): throttling
degrades, but no request fails or waits because Redis is away (DESIGN.md,
"Integrity rules").
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache as shared_cache
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.throttling import SimpleRateThrottle

from .models import BrandKey

logger = logging.getLogger(__name__)

# After the shared cache fails, it is left alone for this long, so that a dead Redis
# costs one failed attempt per process every few seconds, not one per request.
SHARED_CACHE_RETRY_SECONDS = 5.0


class SharedOrLocalCounters:
    """The default cache, or this process's own counters while the default cache does not answer."""

    def __init__(self):
        self.local = LocMemCache("crisis-throttle-fallback", {"OPTIONS": {"MAX_ENTRIES": 10_000}})
        self.shared_down_until = 0.0

    def get(self, key, default=None):
        return self._call("get", key, default)

    def set(self, key, value, timeout):
        return self._call("set", key, value, timeout)

    def _call(self, method, *args):
        if time.monotonic() >= self.shared_down_until:
            try:
                return getattr(shared_cache, method)(*args)
            except Exception as exc:  # whatever the backend raises when away: redis.ConnectionError, …
                self.shared_down_until = time.monotonic() + SHARED_CACHE_RETRY_SECONDS
                logger.warning(
                    "throttle: the shared cache does not answer (%s: %s); counting per process for %.0f s",
                    type(exc).__name__,
                    exc,
                    SHARED_CACHE_RETRY_SECONDS,
                )
        return getattr(self.local, method)(*args)


counters = SharedOrLocalCounters()


class CallerRateThrottle(SimpleRateThrottle):
    """One budget per integration key, per user, or per address for the anonymous."""

    scope = "api"
    cache = counters

    def get_rate(self):
        # Read at request time (not at import, as DRF does), so operators and tests can change it.
        return settings.API_THROTTLE_RATE

    def get_cache_key(self, request, view):
        if isinstance(request.auth, BrandKey):
            ident = f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"ip:{self.get_ident(request)}"
        return f"throttle:{self.scope}:{ident}"


class LoginRateThrottle(SimpleRateThrottle):
    """Token requests per address: slows password guessing before django-axes locks out."""

    scope = "login"
    cache = counters

    def get_rate(self):
        return settings.LOGIN_THROTTLE_RATE

    def get_cache_key(self, request, view):
        return f"throttle:{self.scope}:{self.get_ident(request)}"
