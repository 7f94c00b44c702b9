"""
The integrations app's Celery tasks, for Celery's autodiscovery (it imports `<app>.tasks`);
each part defines its tasks beside itself and lists them here.
"""

from .sources.tasks import poll_source, sweep_sources

__all__ = ["poll_source", "sweep_sources"]
