"""Request throttling: per caller for the API, per address and username for logins."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from .models import BrandKey


class CallerRateThrottle(SimpleRateThrottle):
    """One budget per integration key, per user, or per address for the anonymous."""

    scope = "api"

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

    def get_rate(self):
        return settings.LOGIN_THROTTLE_RATE

    def get_cache_key(self, request, view):
        return f"throttle:{self.scope}:{self.get_ident(request)}"
