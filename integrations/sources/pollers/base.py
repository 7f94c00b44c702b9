"""
What every poller shares: the page it returns, its errors, the guarded HTTP request
with a size cap, and the small readers that turn a tool's loosely typed JSON into the
fields of our mentions.

A poller never touches the database: `fetch` asks the tool for what follows a cursor
and returns a `Page` of items in `POST /api/v1/mentions/`'s shape plus the cursor that
follows them; `polling.py` stores the page and moves the cursor in one transaction.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings

from incidents import outbound

from ..credentials import redact

AUTHOR_MAX = 255
URL_MAX = 2000
EXTERNAL_ID_MAX = 255


class PollError(Exception):
    """The tool's answer could not be used; the message is shown on the source (no secrets in it)."""


class ItemError(Exception):
    """One message of a page could not be read; it is skipped and counted, the page goes on."""


@dataclass
class Page:
    items: list[dict]  # mentions in our shape, not validated yet
    cursor: str  # where the next poll starts once these items are stored
    more: bool = False  # the tool has more after this page
    skipped: list[str] = field(default_factory=list)  # why messages were left out


class Poller:
    """One tool. Subclasses set `tool` and implement `fetch`."""

    tool = ""

    def fetch(self, source, secret: str, cursor: str) -> Page:
        raise NotImplementedError

    # --- helpers for subclasses ---------------------------------------------------

    def read_items(self, messages, read_one) -> tuple[list[dict], list[str]]:
        """Map each message with `read_one`; unreadable ones are skipped with a reason."""
        items, skipped = [], []
        for position, message in enumerate(messages):
            try:
                items.append(read_one(message))
            except ItemError as error:
                skipped.append(f"#{position + 1}: {error}")
        if messages and not items:
            # Not one message readable: the format changed or the answer is wrong. That is
            # the tool's error, not data to skip past (the cursor stays where it is).
            raise PollError(f"none of the {len(messages)} messages could be read ({skipped[0]})")
        return items, skipped


def http_get(url: str, *, params=None, headers=None, secrets=(), tool: str) -> tuple[bytes, bool]:
    """
    GET through the guarded transport (DESIGN.md rule 8); the body, and whether it was cut
    at `SOURCES_MAX_RESPONSE_BYTES`. Every failure is a `PollError` whose message names
    what happened and never the credentials (a URL in an exception may carry them).
    """
    cap = settings.SOURCES_MAX_RESPONSE_BYTES
    try:
        response = outbound.session.get(
            url,
            params=params,
            headers=headers,
            timeout=(5.0, settings.SOURCES_HTTP_TIMEOUT_SECONDS),
            stream=True,
        )
    except outbound.Refused as refused:
        raise PollError(f"{tool}: {refused}") from None
    except requests.Timeout:
        raise PollError(f"{tool} did not answer within {settings.SOURCES_HTTP_TIMEOUT_SECONDS:g} s") from None
    except requests.RequestException as exc:
        raise PollError(redact(f"{tool}: could not connect ({type(exc).__name__})", *secrets)) from None
    try:
        if response.status_code in (401, 403):
            raise PollError(f"{tool} refused the credentials (HTTP {response.status_code}): check the token")
        if response.status_code == 429:
            raise PollError(f"{tool} asked us to slow down (HTTP 429)")
        if response.status_code != 200:
            raise PollError(f"{tool} answered HTTP {response.status_code}")
        body = bytearray()
        cut = False
        try:
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > cap:
                    cut = True
                    del body[cap:]
                    break
        except requests.RequestException as exc:
            message = f"{tool}: the answer broke off ({type(exc).__name__})"
            raise PollError(redact(message, *secrets)) from None
        return bytes(body), cut
    finally:
        response.close()


def parse_json(body: bytes, *, cut: bool, tool: str):
    """One JSON document; a cut, truncated or malformed one is a `PollError`."""
    if cut:
        raise PollError(f"{tool} answered more than {settings.SOURCES_MAX_RESPONSE_BYTES} bytes")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise PollError(f"{tool} answered something that is not complete JSON") from None


# --- Readers: loosely typed JSON → our fields ----------------------------------------


def whole_number(value, name: str, *, required: bool = False, minimum: int | None = None) -> int | None:
    """An integer (or a string of digits); a float, a bool or anything else is the tool's error."""
    if value is None:
        if required:
            raise ItemError(f"{name} is missing")
        return None
    if isinstance(value, bool):
        raise ItemError(f"{name} is not a number")
    if isinstance(value, int):
        number = value
    elif (isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 25) or (
        isinstance(value, float) and value.is_integer()
    ):
        number = int(value)
    else:
        raise ItemError(f"{name} is not a whole number")
    if minimum is not None and number < minimum:
        raise ItemError(f"{name} is below {minimum}")
    return number


def text(value, *, limit: int) -> str:
    """A string cut to `limit`; anything that is not a string is empty."""
    return value[:limit] if isinstance(value, str) else ""


def instant(seconds: int, name: str) -> str:
    """A Unix time as the ISO instant a mention's `published_at` takes."""
    try:
        return datetime.fromtimestamp(seconds, tz=UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        raise ItemError(f"{name} is not a time") from None


def web_url(value) -> str:
    """An http(s) URL we can keep, or empty (a mention without a link is still a mention)."""
    if not isinstance(value, str):
        return ""
    value = value.strip()
    if (
        len(value) > URL_MAX
        or not value.lower().startswith(("http://", "https://"))
        or any(c.isspace() for c in value)
    ):
        return ""
    return value


def post_key(url: str) -> str:
    """
    The post a URL points at, spelled one way whichever tool reported it: lower-case host
    without `www.`/`m.`, no fragment or trailing slash; too long, its SHA-256.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    for prefix in ("www.", "m.", "mobile."):
        host = host.removeprefix(prefix)
    if not host:
        return ""
    key = urlunsplit(("https", host, parts.path.rstrip("/"), parts.query, ""))
    if len(key) > EXTERNAL_ID_MAX:
        return "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def external_id(*, tool: str, platform: str, native_id: str, url: str) -> str:
    """
    API.md: a mention keeps the platform's own identity of the post, so that the same post
    seen by two tools is one mention — we take its URL (`post_key`); on `other`, or without
    a URL, the tool's own id prefixed with the tool's name.
    """
    if platform != "other" and url:
        key = post_key(url)
        if key:
            return key
    if not native_id:
        raise ItemError("no id")
    value = f"{tool}:{native_id}"
    if len(value) > EXTERNAL_ID_MAX:
        value = f"{tool}:sha256:" + hashlib.sha256(native_id.encode()).hexdigest()
    return value
