"""Celery tasks of pulled sources, on the `sources` queue (polls call the outside world: never the clock)."""

from celery import shared_task

from . import polling


@shared_task(ignore_result=True, acks_late=True)
def sweep_sources() -> int:
    """Beat's tick for sources: claim the due ones, one poll task each."""
    return polling.sweep()


# Killed well inside the lease (SOURCES_LEASE_SECONDS, 300 s by default), so no second
# claim of the same source can start while this one is still running.
@shared_task(ignore_result=True, acks_late=True, soft_time_limit=150, time_limit=180)
def poll_source(source_id: int, token: str) -> str:
    """Poll one claimed source; a duplicate or stale copy of the task does nothing."""
    return polling.poll(source_id, token)
