"""
Polling: the sweeper claims due sources, a task polls each one.

The timer follows the clock's rules (DESIGN.md rule 7; incidents/clock.py):

- **Claim.** `sweep()` selects due rows (`next_poll_at <= now`, a range scan of the
  partial index) with `select_for_update(skip_locked=True)`, and claims each with a
  compare-and-set: `UPDATE … SET next_poll_at = now + lease, poll_token = <new> WHERE
  id = … AND next_poll_at <= now`. Only a caller whose update changed the row publishes
  the poll task, after commit; another sweeper skips the locked row or finds it no
  longer due. A claim whose task is lost falls due again when the lease ends.
- **One poll at a time.** The task first swaps the claim's token for one of its own (a
  redelivered copy of the task finds nothing), and every write it makes afterwards —
  each page, the outcome — is conditional on that token. The lease
  (`SOURCES_LEASE_SECONDS`) is longer than a poll may run (the task's hard time limit),
  so no second claim starts while a poll is alive; an edit of the source's query or a
  deletion drops the token, and the running poll then stores nothing more.
- **The cursor moves with the mentions.** A page is fetched outside any transaction,
  then stored through `crisis.mention_input.validate_mention_batch` and
  `incidents.waves.mentions_receive` (the intake of `POST /api/v1/mentions/`), and the
  cursor, counters and the source row are updated in that same transaction. A crash
  before the commit leaves the cursor where it was: the next poll reads the page again,
  and the mentions already stored come back as duplicates.
- **Errors back off.** A failed poll records its error on the source (`last_error`,
  `failures`) and is due again after `interval × 2^failures` (at most
  `SOURCES_BACKOFF_MAX_SECONDS`); the next success resets the count.
"""

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from api.text import free_text, is_unsafe
from crisis.mention_input import MENTION_BATCH_MAX, validate_mention_batch
from crisis.models import Brand, Role
from crisis.tenancy import Principal
from incidents import waves
from incidents.publish import publish_on_commit

from .credentials import CredentialsUnreadable, redact, unseal
from .models import Source
from .pollers import POLLERS, Page, PollError

logger = logging.getLogger(__name__)

POLL_TASK = "integrations.sources.tasks.poll_source"
ERROR_MAX = 2000


@dataclass(frozen=True)
class SourcePrincipal(Principal):
    """A pulled source acting for its brand: reports mentions as a responder would, named on timelines."""

    source_label: str = ""

    @property
    def label(self) -> str:
        return self.source_label

    @classmethod
    def of(cls, source: Source) -> "SourcePrincipal":
        return cls(roles={source.brand_id: Role.RESPONDER}, source_label=f"source:{source.name}"[:150])


class ClaimLost(Exception):
    """The source was claimed again, edited or deleted while this poll ran: store nothing more."""


# --- The sweeper -------------------------------------------------------------------------


def sweep(*, now: datetime | None = None, batch: int = 200) -> int:
    """Claim every due source and publish one poll task for each; returns how many were claimed."""
    claimed = 0
    for _round in range(100):  # bounded, like the clock's sweep
        with transaction.atomic():
            at = now or timezone.now()
            due = list(
                Source.all_brands.select_for_update(skip_locked=True)
                .filter(next_poll_at__lte=at)
                .order_by("next_poll_at")
                .values_list("pk", flat=True)[:batch]
            )
            lease = at + timedelta(seconds=settings.SOURCES_LEASE_SECONDS)
            for source_id in due:
                token = uuid.uuid4().hex
                # The compare-and-set: only the caller that moves the timer polls.
                if Source.all_brands.filter(pk=source_id, next_poll_at__lte=at).update(
                    next_poll_at=lease, poll_token=token
                ):
                    publish_on_commit(POLL_TASK, args=(source_id, token))
                    claimed += 1
        if len(due) < batch:
            break
    return claimed


# --- One poll ----------------------------------------------------------------------------


def poll(source_id: int, token: str, *, now: datetime | None = None) -> str:
    """
    Poll one claimed source: pages until the tool has no more (or the budget is spent),
    each stored with its cursor in one transaction. Returns the outcome: `ok`, `failed`,
    or `stale` when this claim is no longer the source's (a duplicate task, an edit).
    """
    run = uuid.uuid4().hex
    if not token or not Source.all_brands.filter(pk=source_id, poll_token=token).update(poll_token=run):
        return "stale"
    source = Source.all_brands.select_related("brand").filter(pk=source_id).first()
    if source is None:
        return "stale"
    started = time.monotonic()
    secret = ""
    try:
        secret = unseal(source.credentials)
        poller = POLLERS[source.kind]
        cursor, page = source.last_cursor, None
        for _page in range(max(1, settings.SOURCES_MAX_PAGES_PER_POLL)):
            page = poller.fetch(source, secret, cursor)
            _store(source, run, page, now or timezone.now())
            cursor = page.cursor
            if not page.more or time.monotonic() - started > settings.SOURCES_POLL_BUDGET_SECONDS:
                break
        _succeeded(source, run, now or timezone.now(), more=bool(page and page.more))
        return "ok"
    except ClaimLost:
        logger.info("poll of source %s stopped: it was claimed again, edited or deleted", source_id)
        return "stale"
    except PollError as error:
        message = redact(str(error), secret)
    except CredentialsUnreadable:
        message = "the stored credentials cannot be opened with SOURCE_CREDENTIALS_KEY: enter them again"
    except Exception as exc:  # one tool's surprise must not take the worker down
        logger.error(
            "poll of source %s failed unexpectedly: %s",
            source_id,
            redact(f"{type(exc).__name__}: {exc}", secret),
        )
        message = "the desk could not process the tool's answer (see the worker's log)"
    _failed(source, run, now or timezone.now(), message)
    logger.warning("poll of source %s failed: %s", source_id, message)
    return "failed"


def _valid_items(page: Page) -> tuple[list[dict], list[str]]:
    """The page's items as the mention rule accepts them; each refused item is skipped with its reason."""
    items, skipped = [], list(page.skipped)
    for start in range(0, len(page.items), MENTION_BATCH_MAX):
        chunk = page.items[start : start + MENTION_BATCH_MAX]
        try:
            items += validate_mention_batch(chunk)
            continue
        except ValidationError:
            pass
        for item in chunk:  # the rare bad page: find the items at fault
            try:
                items += validate_mention_batch([item])
            except ValidationError as error:
                skipped.append(f"{item.get('external_id', '?')!s:.80}: {_first_message(error.detail)}")
    if page.items and not items:
        raise PollError(f"none of the {len(page.items)} messages could be stored ({skipped[0]})")
    return items, skipped


def _first_message(detail) -> str:
    while isinstance(detail, list | dict) and detail:
        if isinstance(detail, dict):
            name, detail = next(iter(detail.items()))
            if not isinstance(detail, list | dict):
                return f"{name}: {detail}"[:200]
            if isinstance(detail, list) and detail and isinstance(detail[0], str):
                return f"{name}: {detail[0]}"[:200]
        else:
            detail = detail[0]
    return str(detail)[:200]


def _store(source: Source, run: str, page: Page, now: datetime) -> None:
    """Store one page and move the cursor, in one transaction, while this poll holds the claim."""
    if not isinstance(page.cursor, str) or len(page.cursor) > 1000 or is_unsafe(page.cursor):
        raise PollError("the tool's cursor is not a string of at most 1,000 plain characters")
    items, skipped = _valid_items(page)
    with transaction.atomic():
        if not Source.all_brands.select_for_update().filter(pk=source.pk, poll_token=run).exists():
            raise ClaimLost
        intake = waves.mentions_receive(
            principal=SourcePrincipal.of(source), brand=source.brand, items=items, now=now
        )
        changes = {
            "last_cursor": page.cursor,
            "last_polled_at": now,
            "mentions_received": F("mentions_received") + intake.accepted,
            "mentions_skipped": F("mentions_skipped") + len(skipped),
        }
        if skipped:
            # Not a failure (the rest of the page is stored), but the manager should see it.
            note = f"skipped {len(skipped)} message(s) that could not be read: " + "; ".join(skipped[:5])
            changes.update(last_error=free_text(note)[:ERROR_MAX], last_error_at=now)
        Source.all_brands.filter(pk=source.pk).update(**changes)


def _succeeded(source: Source, run: str, now: datetime, *, more: bool) -> None:
    """Release the claim and set the next poll: soon if the tool has more, else after the interval."""
    due = now if more else now + timedelta(seconds=source.interval_seconds)
    Source.all_brands.filter(pk=source.pk, poll_token=run).update(
        poll_token="",
        failures=0,
        last_polled_at=now,
        last_success_at=now,
        next_poll_at=Case(When(enabled=True, then=Value(due)), default=None),
    )


def backoff(source: Source, failures: int) -> timedelta:
    """How long a source that failed `failures` times in a row waits before the next try."""
    ceiling = max(settings.SOURCES_BACKOFF_MAX_SECONDS, source.interval_seconds)
    return timedelta(seconds=min(source.interval_seconds * 2 ** min(failures, 20), ceiling))


def _failed(source: Source, run: str, now: datetime, message: str) -> None:
    """Record the error on the source and back off; nothing of this poll's page was stored."""
    with transaction.atomic():
        row = Source.all_brands.select_for_update().filter(pk=source.pk, poll_token=run).first()
        if row is None:
            return
        failures = row.failures + 1
        Source.all_brands.filter(pk=source.pk).update(
            poll_token="",
            failures=failures,
            last_polled_at=now,
            last_error=free_text(message)[:ERROR_MAX],
            last_error_at=now,
            next_poll_at=(now + backoff(row, failures)) if row.enabled else None,
        )


def brand_sources(brand: Brand):
    """A brand's sources, for its managers' pages (scoped through the brand row)."""
    return brand.sources.order_by("name", "pk")
