"""Celery tasks of the desk: thin wrappers that take ids, re-read and are idempotent."""

import logging

from celery import shared_task
from django.utils import timezone
from knox.models import AuthToken

from .idempotency import purge_expired

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def housekeeping() -> dict:
    """Drop expired idempotency records and expired API tokens."""
    purged = purge_expired()
    tokens, _ = AuthToken.objects.filter(expiry__lt=timezone.now()).delete()
    logger.info("housekeeping: %s idempotency records, %s tokens purged", purged, tokens)
    return {"idempotency_records": purged, "tokens": tokens}
