"""
PostgreSQL, real connections in threads: two beat processes (each sweeping and then
polling what it claimed, as its worker would) never poll one source at once, and a
poll task delivered twice fetches once.
"""

import threading
from collections import Counter

import pytest
from django.utils import timezone

from crisis.models import Mention
from integrations.sources import polling
from integrations.sources.models import Source
from tests.conftest import all_at_once

from .conftest import make_source

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_beat_processes_never_poll_one_source_at_once(acme, fake_ba, monkeypatch):
    sources = [make_source(acme, "brand_analytics", name=f"BA {n}", query=str(100 + n)) for n in range(12)]
    fake_ba.add(3)
    fake_ba.server.delay = 0.05  # each request takes a while: overlaps would show
    fake_ba.server.key_of = lambda path, query: query.get("themeId", path)
    claims, lock = [], threading.Lock()

    def publish(task, args):  # the task each sweeper publishes, tagged with its process
        with lock:
            claims.append((threading.get_ident(), *args))

    monkeypatch.setattr(polling, "publish_on_commit", publish)

    def beat_process(_n):
        polling.sweep()
        me = threading.get_ident()
        mine = [(source_id, token) for ident, source_id, token in list(claims) if ident == me]
        return [polling.poll(source_id, token) for source_id, token in mine]

    rounds = 3
    for _round in range(rounds):
        claims.clear()
        outcomes = all_at_once(beat_process, [1, 2])
        assert sorted(o for outcome in outcomes for o in outcome) == ["ok"] * len(sources)
        claimed = Counter(source_id for _ident, source_id, _token in claims)
        assert claimed == Counter({s.pk: 1 for s in sources})  # each claimed by exactly one sweeper
        Source.all_brands.update(next_poll_at=timezone.now())  # all due again

    requests = Counter(r["query"]["themeId"] for r in fake_ba.server.requests)
    assert requests == Counter({s.query: rounds for s in sources})
    assert max(fake_ba.server.most_in_flight.values()) == 1
    assert Mention.objects.for_brands([acme.pk]).count() == 3


def test_a_poll_task_delivered_twice_at_once_fetches_once(acme, fake_ba, monkeypatch):
    source = make_source(acme, "brand_analytics")
    fake_ba.add(4)
    fake_ba.server.delay = 0.1
    published = []
    monkeypatch.setattr(polling, "publish_on_commit", lambda task, args: published.append(args))
    polling.sweep()
    [(source_id, token)] = published
    outcomes = all_at_once(lambda _n: polling.poll(source_id, token), [1, 2])
    assert sorted(outcomes) == ["ok", "stale"]
    assert len(fake_ba.server.requests) == 1
    assert Source.all_brands.get(pk=source.pk).mentions_received == 4
