"""
Creating, changing and removing a brand's pulled sources: the rules in one place, for
the API, the console and the admin alike (they check the caller's role; these check the
values). Credentials are sealed here and nowhere else.
"""

import re
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from api.errors import InvalidInput
from crisis.models import Brand
from incidents import outbound

from . import credentials as sealing
from .models import Source, SourceKind

INTERVAL_MAX_SECONDS = 24 * 3600
# Talkwalker's rule for stream, rule and collector ids.
COLLECTOR_ID = re.compile(r"^[a-z][a-z0-9_-]{0,99}\Z")
THEME_ID = re.compile(r"^[0-9A-Za-z_-]{1,100}\Z")
NEEDS_CREDENTIALS = {SourceKind.BRAND_ANALYTICS, SourceKind.TALKWALKER}


def source_check(*, kind: str, query: str, interval_seconds: int, secret: str | None, sealed: str) -> None:
    if kind not in SourceKind.values:
        raise InvalidInput(_("Unknown tool."), field="kind")
    if kind == SourceKind.BRAND_ANALYTICS and not THEME_ID.match(query):
        raise InvalidInput(_("Enter the Brand Analytics theme id (letters and digits)."), field="query")
    if kind == SourceKind.TALKWALKER and not COLLECTOR_ID.match(query):
        raise InvalidInput(
            _("Enter the Talkwalker collector id: lower-case letters, digits, - and _, from a letter."),
            field="query",
        )
    if kind == SourceKind.JSON_FEED:
        try:
            outbound.check_url(query)
        except outbound.Refused as refused:
            raise InvalidInput(str(refused), field="query") from None
    low = settings.SOURCES_MIN_INTERVAL_SECONDS
    if not low <= interval_seconds <= INTERVAL_MAX_SECONDS:
        raise InvalidInput(
            _("Poll every %(low)d to %(high)d seconds.") % {"low": low, "high": INTERVAL_MAX_SECONDS},
            field="interval_seconds",
        )
    if secret is not None and (len(secret) > 2000 or any(c.isspace() or ord(c) < 32 for c in secret)):
        raise InvalidInput(_("A token without spaces, at most 2,000 characters."), field="credentials")
    has_secret = bool(secret) if secret is not None else bool(sealed)
    if kind in NEEDS_CREDENTIALS and not has_secret:
        raise InvalidInput(_("This tool needs its API token."), field="credentials")


def source_create(
    *,
    brand: Brand,
    kind: str,
    name: str,
    query: str,
    credentials: str = "",
    interval_seconds: int = 300,
    enabled: bool = True,
) -> Source:
    """A new source of the brand, due at once when enabled."""
    source_check(kind=kind, query=query, interval_seconds=interval_seconds, secret=credentials, sealed="")
    now = timezone.now()
    source = Source(
        brand=brand,
        kind=kind,
        name=name,
        query=query,
        credentials=sealing.seal(credentials),
        interval_seconds=interval_seconds,
        enabled=enabled,
        created_at=now,
        next_poll_at=now if enabled else None,
    )
    try:
        with transaction.atomic():
            source.save(force_insert=True)
    except IntegrityError:
        raise InvalidInput(_("The brand already has a source with this name."), field="name") from None
    return source


def source_update(*, source: Source, **changes) -> Source:
    """
    Change what the caller sent. A new tool or query starts over (cursor cleared, due at
    once) and takes the running poll's claim away, so what it fetched is not stored under
    the new query; disabling stops the timer; `credentials` absent keeps them.
    """
    with transaction.atomic():
        row = Source.all_brands.select_for_update().select_related("brand").get(pk=source.pk)
        secret = changes.pop("credentials", None)
        fields = {name: value for name, value in changes.items() if name in _EDITABLE}
        target = {name: fields.get(name, getattr(row, name)) for name in _EDITABLE}
        source_check(
            kind=target["kind"],
            query=target["query"],
            interval_seconds=target["interval_seconds"],
            secret=secret,
            sealed=row.credentials,
        )
        now = timezone.now()
        restart = target["kind"] != row.kind or target["query"] != row.query
        for name, value in target.items():
            setattr(row, name, value)
        if secret is not None:
            row.credentials = sealing.seal(secret)
        if restart:
            row.last_cursor = ""
            row.poll_token = ""
        if not row.enabled:
            row.next_poll_at, row.poll_token = None, ""
        elif restart or source.enabled is False or row.next_poll_at is None:
            row.next_poll_at = now
        elif not row.poll_token:
            # A new interval counts from the last poll (never in the past).
            row.next_poll_at = max(now, (row.last_polled_at or now) + timedelta(seconds=row.interval_seconds))
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            raise InvalidInput(_("The brand already has a source with this name."), field="name") from None
    return row


_EDITABLE = ("kind", "name", "query", "interval_seconds", "enabled")


def source_delete(*, source: Source) -> None:
    """Remove the source (its mentions stay); a poll still running stores nothing more."""
    Source.all_brands.filter(pk=source.pk).delete()
