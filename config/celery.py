"""The Celery app: configured from Django settings (`CELERY_*`), tasks found in our apps."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("crisis_desk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
