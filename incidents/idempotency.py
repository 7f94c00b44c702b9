"""
`Idempotency-Key` for POST endpoints: a retry replays the first response.

1. Reserve the key in its own committed transaction, so that a concurrent
   retry sees it at once and gets 409 instead of doing the work twice.
2. Do the work and store the response in one transaction: either both are
   committed or neither, so a replay never points at an incident that was
   rolled back, and a created incident always has its response recorded.
3. If the work fails, drop the reservation so that a corrected retry may run.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from crisis.tenancy import Principal

from .errors import IdempotencyInProgress, IdempotencyMismatch
from .models import IdempotencyRecord

MAX_KEY_LENGTH = 255


def fingerprint(payload) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def scope_of(principal: Principal) -> str:
    return f"key:{principal.key.pk}" if principal.key is not None else f"user:{principal.user_id}"


def run_once(
    *, principal: Principal, key: str, payload, work: Callable[[], tuple[int, dict]]
) -> tuple[int, dict]:
    """Run `work` (returning status and body) once per key; later calls replay its answer."""
    scope, digest = scope_of(principal), fingerprint(payload)
    record = _reserve(scope, key, digest)
    if record.status_code is not None:
        return record.status_code, record.response
    try:
        with transaction.atomic():
            status_code, body = work()
            IdempotencyRecord.objects.filter(pk=record.pk).update(status_code=status_code, response=body)
    except BaseException:
        IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).delete()
        raise
    return status_code, body


def _reserve(scope: str, key: str, digest: str) -> IdempotencyRecord:
    """A new running record for us, or the finished one to replay; raises on mismatch or running."""
    for _attempt in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    scope=scope, key=key, fingerprint=digest, created_at=now
                )
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
        if existing is None:
            continue  # it was dropped between our insert and this read; try again
        if existing.created_at < now - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS):
            IdempotencyRecord.objects.filter(pk=existing.pk).delete()
            continue  # expired: the key is free again
        if existing.fingerprint != digest:
            raise IdempotencyMismatch()
        if existing.status_code is not None:
            return existing
        stale_before = now - timedelta(seconds=settings.IDEMPOTENCY_STALE_SECONDS)
        if existing.created_at >= stale_before:
            raise IdempotencyInProgress()
        # The first request died holding the key. Take it over with a
        # compare-and-set, so that of several retries only one proceeds.
        taken = IdempotencyRecord.objects.filter(
            pk=existing.pk, status_code__isnull=True, created_at=existing.created_at
        ).update(created_at=now)
        if taken:
            existing.created_at = now
            return existing
        raise IdempotencyInProgress()
    raise IdempotencyInProgress()


def purge_expired(now=None) -> int:
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
