"""
A real Celery worker with beat (tests/live.py) polls a source from a loopback fake of
Brand Analytics: beat's sweep, the `sources` queue and the poll task, end to end.
"""

import pytest
from django.utils import timezone

from crisis.models import Mention
from integrations.sources.models import Source
from tests.live import purge_broker, start_worker, wait_until

from .conftest import make_source

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_a_worker_with_beat_polls_a_source_and_every_mention_lands_once(acme, fake_ba, tmp_path):
    purge_broker()
    source = make_source(acme, "brand_analytics", interval_seconds=60)
    fake_ba.add(5)
    worker = start_worker(
        tmp_path,
        SOURCES_SWEEP_SECONDS=1,
        OUTBOUND_ALLOW_PRIVATE_NETWORKS="true",  # the fake is on loopback, over plain http
        BRAND_ANALYTICS_API_URL=fake_ba.server.url,
    )
    try:

        def stored():
            return Mention.objects.for_brands([acme.pk]).count()

        assert wait_until(lambda: stored() == 5, timeout=30), worker.tail(60)
        fake_ba.add(3)
        Source.all_brands.filter(pk=source.pk).update(next_poll_at=timezone.now())
        assert wait_until(lambda: stored() == 8, timeout=30), worker.tail(60)
        row = Source.all_brands.get(pk=source.pk)
        assert row.mentions_received == 8 and row.failures == 0 and row.last_cursor
    finally:
        worker.stop()
