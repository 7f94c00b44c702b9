"""
Channel adapters: how a notification leaves the desk.

The outbox (`incidents/outbox.py`) leases pending notifications in batches and hands
each channel's share to that channel's adapter. `adapters()` is the dict of them,
one instance per kind and worker process, built from `settings.NOTIFICATION_CHANNELS`
(kind → dotted path of a `Channel` subclass), as Django names its e-mail backend. A
package above the desk plugs its channel in from `config/settings.py`, and incidents/
never imports it (DESIGN.md, "Layout"):

    NOTIFICATION_CHANNELS["telegram"] = "integrations.chat.telegram.TelegramChannel"

A kind with no adapter is not offered when a person saves a channel
(`check_target` is never reached), and its pending rows wait, retried with backoff.

The interface, all of it optional except `send_batch`:

`batches(notifications) -> list[list[Notification]]`
    Split a delivery task's rows of this kind into the lists sent in parallel, each
    by one thread over one connection, in order: e-mail into up to
    `NOTIFICATION_EMAIL_CONNECTIONS` lists, webhooks by host, a chat by bot. At most
    `concurrency` lists of one channel are sent at once in a worker process.

`limits(notification) -> Sequence[Limit]`
    The rate limits one send of it spends: `Limit(key, rate)`, the rate in the
    `limits` library's notation ("30/second", "20/minute"; None: no rate, the key
    can still be paused). The budgets hold across every worker (Redis; per process
    while Redis is away: `incidents/ratelimits.py`). A notification is handed to
    `send_batch` only once every one of its limits allows it; a short wait is
    waited, a longer one puts it back in the outbox, untried, for when it allows.
    E.g. Telegram: `[Limit(f"telegram:bot:{bot}", "30/second"),
    Limit(f"telegram:chat:{chat}", "20/minute")]` for a group.

`send_batch(notifications) -> Iterator[tuple[Notification, Outcome]]`
    Send them, and yield each one taken with its `Outcome`, as soon as it is known:
    write it as a generator, so that what was sent before a crash is recorded as
    sent. `notifications` is an iterable consumed once; iterating it may wait for
    rate limits. It runs on a delivery thread, not the task's: it must not use the
    database (what it needs is on the row: `target`, `secret`, `subject`, `body`,
    `payload`, `idempotency_key`, which it passes on so that receivers can drop a
    repeat: delivery is at least once). HTTP goes through `outbound.session` only.
    To stop early (the target is down, a connection cannot be opened), return: the
    notifications not yet taken go back to the outbox untried (no attempt counted)
    and are tried again after `NOTIFICATION_BACKOFF_SECONDS`. A notification taken
    and not reported (the generator raised) is retried as a failed attempt.

`Outcome`, per notification:
    `Outcome.sent(receipt=None)`: delivered; `receipt` (a dict: what the target
    answered that the channel must remember, e.g. a chat message's id) is handed to
    `receipts` once the outcome is written;
    `Outcome.retry(error, public=…, after=None, pause=None)`: not delivered, may
    pass; tried again after the outbox's backoff, or after `after` seconds if that
    is later (a 429's Retry-After). With `after`, the notification's limit keys
    (or only the keys named in `pause`) are paused for that long across all
    workers: nothing else is sent through them before then;
    `Outcome.failed(error, public=…)`: will not pass (a refused address, a 4xx);
    `error` is for the server (`last_error`, logs), `public` for the incident's
    timeline: "not delivered" unless the target's own answer is fit to show.

`receipts(pairs: list[tuple[Notification, dict]])`
    Called on the delivery task's thread (where the database may be used) with the
    receipts of the sent notifications of a list, after their outcomes are written:
    Telegram stores a group message's id there, so that later news edits it.

`check_target(target)`
    When a person saves a channel of this kind: raise `outbound.Refused` (its
    str() is shown to them) for a target the channel would not deliver to.

`close()`
    Close idle connections: called from a reaper thread when the channel has had
    nothing to send for `NOTIFICATION_IDLE_CLOSE_SECONDS`, never while a batch runs.
"""

import contextlib
import functools
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# What the incident's timeline says of a delivery that did not go through, whatever the
# cause: a refused address, a closed port and a timeout must look alike to the person
# who set the channel's URL, or the timeline becomes a scanner of the desk's network.
NOT_DELIVERED = "not delivered"

SENT, RETRY, FAILED = "sent", "retry", "failed"


@dataclass(frozen=True)
class Outcome:
    """What became of one notification handed to an adapter (build with the class methods)."""

    status: str
    error: str = ""  # for the server: `last_error`, logs
    public: str = ""  # for the incident's timeline
    after: float | None = None  # not again before this many seconds (Retry-After)
    pause: tuple[str, ...] | None = None  # limit keys held for `after` (None: all of the row's)
    receipt: dict | None = None  # sent: what the channel keeps of the answer (`Channel.receipts`)

    @classmethod
    def sent(cls, receipt: dict | None = None) -> "Outcome":
        return cls(SENT, receipt=receipt)

    @classmethod
    def retry(
        cls,
        error: str,
        *,
        public: str = NOT_DELIVERED,
        after: float | None = None,
        pause: Sequence[str] | None = None,
    ) -> "Outcome":
        return cls(RETRY, error[:1000], public, after, tuple(pause) if pause is not None else None)

    @classmethod
    def failed(cls, error: str, *, public: str = NOT_DELIVERED) -> "Outcome":
        return cls(FAILED, error[:1000], public)


@dataclass(frozen=True)
class Limit:
    """A rate one send spends: `rate` sends per period under `key`, across all workers."""

    key: str  # e.g. "webhook:hooks.example.com:443", "telegram:chat:-100123"
    rate: str | None = None  # "30/second", "20/minute"; None: no budget, only pauses


class Channel:
    """Base of a channel adapter: one instance per kind and worker process (see the module)."""

    # Lists of this channel sent at once by one worker process.
    concurrency: int = 1

    def batches(self, notifications: list) -> list[list]:
        return [notifications]

    def limits(self, notification) -> Sequence[Limit]:
        return ()

    def send_batch(self, notifications: Iterable) -> Iterator[tuple[object, Outcome]]:
        raise NotImplementedError

    def receipts(self, pairs: list) -> None:
        pass

    def check_target(self, target: str) -> None:
        pass

    def close(self) -> None:
        pass


def split_evenly(items: list, parts: int, *, at_least: int = 1) -> list[list]:
    """`items` dealt round-robin into at most `parts` lists of at least `at_least` each (but one)."""
    parts = max(1, min(parts, len(items) // max(at_least, 1)))
    return [items[i::parts] for i in range(parts)] if items else []


@functools.cache
def adapters() -> dict[str, Channel]:
    """The channel adapters of this process, by kind (`settings.NOTIFICATION_CHANNELS`)."""
    return {kind: import_string(path)() for kind, path in settings.NOTIFICATION_CHANNELS.items()}


# --- Closing idle connections ------------------------------------------------------------

_use = {"active": Counter(), "last": {}, "reaper": None}
_use_lock = threading.Lock()


@contextlib.contextmanager
def in_use(kind: str):
    """Mark the channel busy while a batch of it is sent (the reaper leaves it alone)."""
    _start_reaper()
    with _use_lock:
        _use["active"][kind] += 1
    try:
        yield
    finally:
        with _use_lock:
            _use["active"][kind] -= 1
            _use["last"][kind] = time.monotonic()


def close_idle() -> list[str]:
    """Close the connections of every channel idle for `NOTIFICATION_IDLE_CLOSE_SECONDS`."""
    closed = []
    now = time.monotonic()
    for kind, adapter in adapters().items():
        with _use_lock:
            last = _use["last"].get(kind)
            idle = not _use["active"][kind] and last is not None
            if not idle or now - last < settings.NOTIFICATION_IDLE_CLOSE_SECONDS:
                continue
            _use["last"].pop(kind)
            # Marked busy while it closes: a batch starting now waits for no lock of ours,
            # the adapter's own pool hands it a new connection.
            _use["active"][kind] += 1
        try:
            adapter.close()
            closed.append(kind)
        except Exception:
            logger.exception("channel %s: closing its idle connections failed", kind)
        finally:
            with _use_lock:
                _use["active"][kind] -= 1
    return closed


def _reap() -> None:
    while True:
        time.sleep(min(1.0, max(0.1, settings.NOTIFICATION_IDLE_CLOSE_SECONDS / 3)))
        try:
            close_idle()
        except Exception:  # the reaper must outlive a bad adapter or a settings change
            logger.exception("closing idle channel connections failed")


def _start_reaper() -> None:
    with _use_lock:
        if _use["reaper"] is None:
            _use["reaper"] = threading.Thread(target=_reap, name="channel-reaper", daemon=True)
            _use["reaper"].start()


def _forget_after_fork() -> None:
    # A forked worker must not share its parent's connections: forget them, unclosed,
    # and the reaper thread, which did not come along.
    adapters.cache_clear()
    _use.update(active=Counter(), last={}, reaper=None)


def _settings_changed(*, setting, **kwargs):
    if setting.startswith(("NOTIFICATION_", "EMAIL_", "WEBHOOK_", "TELEGRAM_")):
        adapters.cache_clear()


setting_changed.connect(_settings_changed)

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
