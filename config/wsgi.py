"""WSGI entry point for gunicorn: `gunicorn config.wsgi`."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Import every view now (Django does it lazily on the first request), then move
# everything loaded so far out of the cyclic garbage collector's reach. Otherwise
# each full collection walks Django's ~120,000 long-lived objects, a 50+ ms pause
# for every thread of the worker and the tail of its latency (bench/filing.py).
get_resolver().url_patterns  # noqa: B018 - imports the URLconf and its views
gc.freeze()
