"""The client's address, one rule for the throttles and the login lockout."""

from rest_framework.throttling import BaseThrottle


def client_address(request, *args) -> str:
    """
    The client's address: behind PROXY_COUNT proxies of our own, the entry that many from
    the right of X-Forwarded-For (what our first proxy saw); otherwise REMOTE_ADDR.

    DRF's rule (NUM_PROXIES), so that django-axes (AXES_CLIENT_IP_CALLABLE) keys a lockout
    on the same address a throttle counts; entries further left are the client's own say.
    """
    return BaseThrottle().get_ident(request)
