"""The Celery app: configured from Django settings (`CELERY_*`), tasks found in our apps."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Its Connection reconnects to a broker that went away within seconds, not kombu's 30
# (config/redis_broker.py).
app = Celery("crisis_desk", amqp="config.redis_broker:AMQP")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
