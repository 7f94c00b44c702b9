"""
Each pytest-xdist worker (`make test` runs the suite in two) gets resources of its own.

Loaded with `-p` (pyproject.toml), so that it runs before Django reads its settings:
- its own VAR_DIR (`var/test/gw0`, …): the SQLite test database, the filesystem
  broker's folders and mail (screenshots stay together in `var/test/screenshots`);
- its own keys in the shared Redis database (REDIS_KEY_PREFIX `test-gw0:`, …): the
  broker's queues, the rate limits, the cache, so that one worker's live Celery
  worker never takes the other's tasks;
- its own PostgreSQL test database, which pytest-django names itself (`…_gw0`).
The processes the live tests start inherit all three (tests/live.py). Without xdist
this does nothing.
"""

import os
from pathlib import Path

import pytest

DEFAULT_VAR_DIR = "var/test"  # pyproject.toml's `D:VAR_DIR`, should pytest-env not have set it yet


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    base = os.environ.get("VAR_DIR") or DEFAULT_VAR_DIR
    os.environ["VAR_DIR"] = os.path.join(base, worker)
    os.environ["REDIS_KEY_PREFIX"] = os.environ.get("REDIS_KEY_PREFIX", "") + f"test-{worker}:"


def screenshots_dir() -> Path:
    """VAR_DIR/screenshots of the whole run, whichever worker takes the picture."""
    from django.conf import settings

    var_dir = settings.VAR_DIR.parent if os.environ.get("PYTEST_XDIST_WORKER") else settings.VAR_DIR
    return var_dir / "screenshots"
