"""
Settings of the benchmarks: production's, plus the bare comparison endpoint.

`bench/filing.py` starts its server with `DJANGO_SETTINGS_MODULE=bench.settings`; the
production settings never know the benchmark app exists.
"""

from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "bench.bare"]  # noqa: F405
ROOT_URLCONF = "bench.urls"
