"""WSGI entry point for gunicorn: `gunicorn config.wsgi`."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Import every view now (Django does it lazily on the first request), then move
# everything loaded so far out of the cyclic garbage collector's reach. Otherwise
# each full collection walks all of Django's long-lived objects, pausing every thread
# of the worker: that pause was the tail of its latency (docs/benchmarks.md, filing).
get_resolver().url_patterns  # noqa: B018 - imports the URLconf and its views
gc.freeze()
