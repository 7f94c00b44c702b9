"""
Credentials of pulled sources, sealed at rest.

A source's API token is stored as a Fernet token (`cryptography`: AES-128-CBC with an
HMAC-SHA256, a timestamp and a version byte) under the key in `SOURCE_CREDENTIALS_KEY`;
a comma-separated list of keys rotates them (the first seals, any of them opens:
`MultiFernet`). The plain value exists only in memory, for the request that sets it and
the poll that sends it: no answer, page, admin form or log line shows it.
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class CredentialsUnreadable(Exception):
    """The stored credentials cannot be opened with the configured keys (a key was dropped)."""


@lru_cache(maxsize=4)
def _fernet(keys: str) -> MultiFernet:
    parts = [k.strip() for k in keys.split(",") if k.strip()]
    if not parts:
        raise ImproperlyConfigured("SOURCE_CREDENTIALS_KEY is empty: pulled sources cannot seal credentials.")
    try:
        return MultiFernet([Fernet(k.encode()) for k in parts])
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "SOURCE_CREDENTIALS_KEY must be Fernet keys (32 url-safe base64 bytes each), comma-separated."
        ) from None


def _keys() -> str:
    configured = getattr(settings, "SOURCE_CREDENTIALS_KEY", "")
    if configured:
        return configured
    # Development and tests: a key derived from SECRET_KEY (the deploy check warns).
    digest = hashlib.sha256(f"source-credentials:{settings.SECRET_KEY}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def seal(plain: str) -> str:
    """The stored form of a secret; empty stays empty (no credentials)."""
    if not plain:
        return ""
    return _fernet(_keys()).encrypt(plain.encode()).decode()


def unseal(stored: str) -> str:
    """The secret itself, for the request to the tool; raises `CredentialsUnreadable`."""
    if not stored:
        return ""
    try:
        return _fernet(_keys()).decrypt(stored.encode()).decode()
    except (InvalidToken, ValueError):
        raise CredentialsUnreadable from None


def redact(text: str, *secrets: str) -> str:
    """`text` with every secret replaced: error messages of HTTP clients carry URLs with tokens."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
