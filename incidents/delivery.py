"""
Delivering the outbox: a batch of notifications leased, sent through the channel
adapters in parallel within their limits, and its outcomes written set-wise.

1. Lease: one transaction claims the batch's rows that are still pending, not leased
   by another worker and not waiting for a retry (`not_before`), and counts an attempt
   on each (`skip_locked`: two workers handed the same ids split them).
2. Send: each channel's rows are split by its adapter (`batches`: e-mail over a few
   connections, webhooks by host); the lists run on this process's bounded thread
   pool (`NOTIFICATION_DELIVERY_THREADS`, healthchecks' sendalerts in shape), at most
   `concurrency` lists of one channel at once, so a slow or dead target holds up only
   its own list. A list's rows are handed to `send_batch` one by one as their rate
   limits allow (`ratelimits.py`): a short wait is waited, a longer one sends the row
   back to the outbox untried until its budget allows.
3. Record: as each list finishes, one transaction writes its rows' outcomes (one
   UPDATE) and their `notified` timeline events (one INSERT), so that what was sent is
   recorded even if a later list hangs until the task is killed.
4. Follow up: rows left untried for lack of time go out again in a new task at once;
   a retry due within `ESCALATION_ETA_WINDOW_SECONDS` is published with that ETA;
   the sweeper (`outbox.republish_due`) publishes whatever is due and was not.

Delivery is at least once: a worker killed between a send and its record leaves the
row leased, and another sends it again after the lease (receivers drop the repeat by
its idempotency key). A confirmed send is recorded and never repeated: only pending,
unleased rows are leased.
"""

import collections
import logging
import math
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from . import channels, ratelimits
from .channels import FAILED, RETRY, SENT, Outcome
from .models import EventKind, Notification
from .models import NotificationStatus as Status
from .publish import TASKS, publish_now
from .timeline import timeline_notified

logger = logging.getLogger(__name__)

LEASE_SECONDS = 60
# Sending starts within this budget of a task; what is left is handed to a new task,
# so the task's time limits (tasks.py) still guard every row's lease.
BUDGET_SECONDS = 20
# Rows handed to one delivery task.
CHUNK = 250
DEFERRED = "deferred"  # handed back untried: no attempt counted
SKIPPED = "skipped"  # not leased: sent already, leased by another worker, or not due


def backoff_seconds(attempts: int) -> float:
    """Exponential: base, twice that, four times, … capped."""
    return min(
        settings.NOTIFICATION_BACKOFF_SECONDS * 2 ** (attempts - 1), settings.NOTIFICATION_BACKOFF_MAX_SECONDS
    )


@dataclass
class _Result:
    row: Notification
    status: str  # SENT, RETRY, FAILED or DEFERRED
    at: datetime
    error: str = ""
    public: str = ""
    wait: float = 0.0  # DEFERRED: seconds before it may go; RETRY: at least this long
    receipt: dict | None = None  # SENT: handed to the adapter's `receipts` once recorded


def deliver_batch(notification_ids: list[int], *, now: datetime | None = None) -> dict[int, str]:
    """Send what is deliverable of these notifications; {id: sent, retry, failed, deferred or skipped}."""
    now = now or timezone.now()
    rows = _lease(notification_ids, now)
    outcomes = dict.fromkeys(notification_ids, SKIPPED)
    if not rows:
        return outcomes
    names = _usernames(rows)
    handed_on: list[int] = []
    due_soon: dict[datetime, list[int]] = collections.defaultdict(list)
    for results in _send(rows, deadline=time.monotonic() + BUDGET_SECONDS):
        written = _record(results, names)
        _hand_receipts(results)
        for pk, outcome, again in written:
            outcomes[pk] = outcome
            if again is not None and again <= timezone.now():
                handed_on.append(pk)
            elif again is not None and again <= timezone.now() + timedelta(
                seconds=settings.ESCALATION_ETA_WINDOW_SECONDS
            ):
                due_soon[_bucket(again)].append(pk)
    for start in range(0, len(handed_on), CHUNK):
        publish_now(TASKS.DELIVER_NOTIFICATIONS, args=(handed_on[start : start + CHUNK],))
    for at, ids in due_soon.items():
        publish_now(TASKS.DELIVER_NOTIFICATIONS, args=(ids,), eta=at)
    return outcomes


def _bucket(at: datetime) -> datetime:
    # Retries due within the same half second share one task.
    return datetime.fromtimestamp(math.ceil(at.timestamp() * 2) / 2, tz=at.tzinfo)


# --- 1. Lease ------------------------------------------------------------------------------


def _lease(notification_ids: list[int], now: datetime) -> list[Notification]:
    # Delivery is the desk's own work on every brand's outbox: `all_brands` here and below.
    with transaction.atomic():
        rows = list(
            Notification.all_brands.select_for_update(skip_locked=True)
            .filter(pk__in=notification_ids, status=Status.PENDING)
            .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
            .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
            .order_by("pk")
        )
        if rows:
            Notification.all_brands.filter(pk__in=[row.pk for row in rows]).update(
                attempts=F("attempts") + 1, leased_until=now + timedelta(seconds=LEASE_SECONDS)
            )
    for row in rows:
        row.attempts += 1
    return rows


def _usernames(rows: list[Notification]) -> dict[int, str]:
    ids = {row.recipient_id for row in rows if row.recipient_id is not None and row.incident_id is not None}
    if not ids:
        return {}
    return dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))


# --- 2. Send -------------------------------------------------------------------------------

_pool = {"executor": None}
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    with _pool_lock:
        if _pool["executor"] is None:
            _pool["executor"] = ThreadPoolExecutor(
                max_workers=max(1, settings.NOTIFICATION_DELIVERY_THREADS), thread_name_prefix="deliver"
            )
        return _pool["executor"]


if hasattr(os, "register_at_fork"):
    # The pool's threads do not survive a fork: a forked worker starts its own.
    os.register_at_fork(after_in_child=lambda: _pool.update(executor=None))


def _send(rows: list[Notification], *, deadline: float):
    """Yield each list's results as it finishes, the lists running in parallel."""
    adapters = channels.adapters()
    by_kind: dict[str, list[Notification]] = collections.defaultdict(list)
    for row in rows:
        by_kind[row.channel].append(row)
    work = []  # (kind, adapter, the lists still to send, how many of them at once)
    for kind, of_kind in by_kind.items():
        adapter = adapters.get(kind)
        if adapter is None:
            error = f"no adapter for the channel {kind!r}"
            yield [_Result(row, RETRY, timezone.now(), error, channels.NOT_DELIVERED) for row in of_kind]
            continue
        try:
            lists = [part for part in adapter.batches(of_kind) if part]
        except Exception:
            logger.exception("channel %s: batches() failed; sending its rows as one list", kind)
            lists = [of_kind]
        work.append((kind, adapter, collections.deque(lists), min(adapter.concurrency, len(lists))))
    if sum(len(lists) for _kind, _adapter, lists, _n in work) == 1:
        kind, adapter, lists, _n = work[0]
        with channels.in_use(kind):
            yield _send_list(adapter, lists.popleft(), deadline)
        return
    finished: queue.SimpleQueue = queue.SimpleQueue()
    running = 0
    for kind, adapter, lists, at_once in work:
        for _seat in range(at_once):
            _executor().submit(_run_lists, kind, adapter, lists, deadline, finished)
            running += 1
    while running:
        results = finished.get()
        if results is None:
            running -= 1
        else:
            yield results


def _run_lists(kind: str, adapter, lists: collections.deque, deadline: float, finished) -> None:
    """One seat of a channel: send its lists one after another until none is left."""
    try:
        with channels.in_use(kind):
            while True:
                try:
                    rows = lists.popleft()
                except IndexError:
                    return
                finished.put(_send_list(adapter, rows, deadline))
    except Exception:  # _send_list catches the adapter's faults; this is ours, and must not hang the task
        logger.exception("channel %s: a delivery seat failed", kind)
    finally:
        finished.put(None)


def _send_list(adapter, rows: list[Notification], deadline: float) -> list[_Result]:
    """Hand `rows` to the adapter as their limits allow; a result for every row."""
    limiter = ratelimits.limiter()
    taken: set[int] = set()
    waits: dict[int, float] = {}
    out_of_time = False

    def paced():
        nonlocal out_of_time
        for row in rows:
            if time.monotonic() >= deadline:
                out_of_time = True
                return
            wait = _acquire(limiter, _limits(adapter, row), deadline)
            if wait:
                waits[row.pk] = wait
                continue
            taken.add(row.pk)
            yield row

    reported: dict[int, _Result] = {}
    try:
        for row, outcome in adapter.send_batch(paced()):
            reported[row.pk] = _result(row, outcome)
            if outcome.status == RETRY and outcome.after:
                keys = (
                    outcome.pause if outcome.pause is not None else [lim.key for lim in _limits(adapter, row)]
                )
                limiter.pause(keys, outcome.after)
    except Exception as exc:  # an adapter bug must not leave its rows leased until the lease ends
        logger.exception("channel %s: send_batch crashed", rows[0].channel)
        crash = type(exc).__name__
    else:
        crash = ""
    results = []
    for row in rows:
        if row.pk in reported:
            results.append(reported[row.pk])
        elif row.pk in taken:  # taken and never reported: it may have gone out
            results.append(
                _Result(row, RETRY, timezone.now(), crash or "not reported", channels.NOT_DELIVERED)
            )
        elif row.pk in waits:
            results.append(_Result(row, DEFERRED, timezone.now(), wait=waits[row.pk]))
        elif out_of_time:
            results.append(_Result(row, DEFERRED, timezone.now(), wait=0.0))
        else:  # the adapter stopped early: its target is down
            results.append(_Result(row, DEFERRED, timezone.now(), wait=settings.NOTIFICATION_BACKOFF_SECONDS))
    return results


def _limits(adapter, row) -> list:
    try:
        return list(adapter.limits(row))
    except Exception:
        logger.exception("channel %s: limits() failed; sent without", row.channel)
        return []


def _acquire(limiter, wanted: list, deadline: float) -> float:
    """0 once every limit allowed the send; else the seconds it would have to wait longer than we will."""
    while True:
        wait = limiter.acquire(wanted)
        if not wait:
            return 0.0
        if wait > settings.NOTIFICATION_RATE_WAIT_SECONDS or time.monotonic() + wait >= deadline:
            return wait
        time.sleep(wait)


def _result(row: Notification, outcome: Outcome) -> _Result:
    at = timezone.now()
    if outcome.status == SENT:
        return _Result(row, SENT, at, receipt=outcome.receipt)
    status = FAILED if outcome.status == FAILED else RETRY
    return _Result(
        row, status, at, outcome.error, outcome.public or channels.NOT_DELIVERED, outcome.after or 0.0
    )


def _hand_receipts(results: list[_Result]) -> None:
    """Give each adapter the receipts of its sent rows (on this, the task's, thread)."""
    by_kind: dict[str, list] = collections.defaultdict(list)
    for result in results:
        if result.status == SENT and result.receipt:
            by_kind[result.row.channel].append((result.row, result.receipt))
    for kind, pairs in by_kind.items():
        adapter = channels.adapters().get(kind)
        try:
            adapter.receipts(pairs)
        except Exception:  # what was sent stays recorded as sent; the channel loses only its memo
            logger.exception("channel %s: receipts() failed", kind)


# --- 3. Record -----------------------------------------------------------------------------


def _record(results: list[_Result], names: dict[int, str]) -> list[tuple[int, str, datetime | None]]:
    """
    Write a list's outcomes set-wise; (id, outcome, when it may go again) per row.

    Rows with the same new values share one UPDATE: in a burst nearly all were sent,
    so a list costs one UPDATE and one INSERT of its timeline events. (Django's
    bulk_update, a CASE per field and row, cost more than the sending.) `sent_at` is
    the moment the list's outcomes were recorded; each event has its send's own time.
    """
    recorded_at = timezone.now()
    written, events = [], []
    updates: dict[tuple, list[int]] = collections.defaultdict(list)
    for result in results:
        row = result.row
        again = None
        outcome = result.status
        if result.status == SENT:
            values = {"status": Status.SENT, "sent_at": recorded_at, "last_error": ""}
        elif result.status == DEFERRED:
            row.attempts -= 1  # not tried
            again = recorded_at + timedelta(seconds=result.wait)
            values = {"attempts": row.attempts}
        elif result.status == RETRY and row.attempts < settings.NOTIFICATION_MAX_ATTEMPTS:
            again = recorded_at + timedelta(seconds=max(backoff_seconds(row.attempts), result.wait))
            values = {"last_error": result.error}
        else:
            outcome = FAILED
            values = {"status": Status.FAILED, "last_error": result.error}
        values.update(next_attempt_at=again, not_before=again, leased_until=None)
        updates[tuple(sorted(values.items()))].append(row.pk)
        written.append((row.pk, outcome, again))
        if outcome != DEFERRED and row.incident_id is not None:
            data = {
                "notification": row.pk,  # the row the causing event's `recipients` names
                "channel": row.channel,
                "reason": row.reason,
                "recipient": names.get(row.recipient_id),
                "attempt": row.attempts,
                "outcome": outcome,
                "error": "" if outcome == SENT else result.public,
            }
            events.append((row.incident_id, EventKind.NOTIFIED, data, result.at))
    with transaction.atomic():
        for values, ids in updates.items():
            Notification.all_brands.filter(pk__in=ids).update(**dict(values))
        timeline_notified(events)
    return written
