"""Tasks are published by name: every published name is a task the worker knows, routed to a queue."""

from django.conf import settings

from config.celery import app
from incidents.publish import TASKS


def published_names() -> list[str]:
    return [value for name, value in vars(TASKS).items() if name.isupper()]


def test_every_published_name_is_a_registered_task():
    app.loader.import_default_modules()
    assert published_names()
    assert set(published_names()) <= set(app.tasks)


def test_every_published_task_has_a_queue():
    routed = settings.CELERY_TASK_ROUTES
    assert {name: name in routed for name in published_names()} == dict.fromkeys(published_names(), True)
