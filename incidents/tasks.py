"""Celery tasks of the desk: thin wrappers that take ids, re-read and are idempotent."""

import collections
import logging

from celery import shared_task
from django.utils import timezone
from knox.models import AuthToken

from . import clock, delivery
from .idempotency import purge_expired

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True, acks_late=True)
def sweep() -> dict:
    """Beat's tick: fire every due timer and republish lost notifications."""
    result = clock.sweep()
    if result["fired"] or result["republished"]:
        logger.info("sweep: %s", result)
    return result


@shared_task(ignore_result=True, acks_late=True)
def sweep_early() -> dict:
    """A sweep scheduled by the last tick for the moment timers fall due."""
    return clock.sweep(plan_ahead=False)


@shared_task(ignore_result=True, acks_late=True)
def fire_due_timers(incident_id: int) -> int:
    """The ETA fast path for one incident; duplicates and early arrivals do nothing."""
    return clock.fire_due_timers(incident_id)


# Delivery of the rows one transaction wrote (or the sweeper republished): leased,
# sent in parallel and recorded as a batch (incidents/delivery.py). Sending starts
# within delivery.BUDGET_SECONDS, the rest is handed to a new task; killed before the
# outbox lease (60 s) runs out, so a hung channel cannot make a second worker send the
# same message while the first is still stuck.
@shared_task(ignore_result=True, acks_late=True, soft_time_limit=40, time_limit=50)
def deliver_notifications(notification_ids: list[int]) -> dict:
    return dict(collections.Counter(delivery.deliver_batch(notification_ids).values()))


@shared_task(ignore_result=True)
def housekeeping() -> dict:
    """Drop expired idempotency records and expired API tokens."""
    purged = purge_expired()
    tokens, _ = AuthToken.objects.filter(expiry__lt=timezone.now()).delete()
    logger.info("housekeeping: %s idempotency records, %s tokens purged", purged, tokens)
    return {"idempotency_records": purged, "tokens": tokens}
