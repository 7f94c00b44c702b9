"""
Publishing Celery tasks after commit, best effort.

Every task we publish is a fast path for work the database already records
(a due timer, a pending notification): if the broker is down the sweeper
does the work a tick later. So a failed publish is logged and swallowed, and
after one failure we stop trying for a few seconds, so that a dead broker costs
requests nothing while it is away.

Tasks are named, not imported (`TASKS`): the modules that publish (the clock, the
outbox) are what the tasks call, so importing the tasks would make a cycle.
"""

import logging
import threading
import time

from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)

BREAKER_OPEN_SECONDS = 5.0


class TASKS:
    """The names of the tasks in `incidents/tasks.py` that the desk publishes (routes: settings)."""

    SWEEP_EARLY = "incidents.tasks.sweep_early"
    FIRE_DUE_TIMERS = "incidents.tasks.fire_due_timers"
    DELIVER_NOTIFICATIONS = "incidents.tasks.deliver_notifications"


_breaker = {"open_until": 0.0}
_lock = threading.Lock()


def publish_on_commit(task: str, *, args=(), eta=None) -> None:
    """Publish the task named `task` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: publish_now(task, args=args, eta=eta), robust=True)


def publish_now(task: str, *, args=(), eta=None) -> bool:
    """Publish the task named `task` now; False (and logged) if the broker did not take it."""
    if time.monotonic() < _breaker["open_until"]:
        return False
    try:
        current_app.send_task(task, args=args, eta=eta, retry=False)
    except Exception as exc:  # broker unreachable, connection reset, …
        with _lock:
            _breaker["open_until"] = time.monotonic() + BREAKER_OPEN_SECONDS
        logger.warning("publish of %s failed, the sweeper will cover it: %s", task, exc)
        return False
    return True


def reset_breaker() -> None:
    _breaker["open_until"] = 0.0
