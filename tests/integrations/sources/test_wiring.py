"""Beat, the queues and the worker know the pulled sources' tasks, off the clock's queue."""

from django.conf import settings

from config.celery import app


def test_the_worker_finds_the_tasks_and_beat_schedules_the_sweep():
    app.loader.import_default_modules()  # what a worker does at start (autodiscovery)
    assert {"integrations.sources.tasks.sweep_sources", "integrations.sources.tasks.poll_source"} <= set(
        app.tasks
    )
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-sources"]
    assert entry["task"] == "integrations.sources.tasks.sweep_sources"


def test_polls_run_on_their_own_queue_never_the_clocks():
    assert "sources" in {queue.name for queue in settings.CELERY_TASK_QUEUES}
    for task in ("integrations.sources.tasks.sweep_sources", "integrations.sources.tasks.poll_source"):
        assert settings.CELERY_TASK_ROUTES[task] == {"queue": "sources"}
    poll = app.tasks["integrations.sources.tasks.poll_source"]
    # Killed before the lease ends, so no second claim can overlap a poll still running.
    assert poll.time_limit < settings.SOURCES_LEASE_SECONDS
