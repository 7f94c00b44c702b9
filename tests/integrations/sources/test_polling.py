"""
Polls against local fakes of the tools: every mention once, crashes that lose nothing,
errors that show and back off, bad answers that never take the worker down.
"""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from crisis.models import Mention
from incidents import waves
from incidents.models import Incident
from integrations.sources import polling
from integrations.sources.models import Source, SourceStatus

from .conftest import BA_TOKEN, FEED_TOKEN, TW_TOKEN, due_now, make_source, refreshed

pytestmark = pytest.mark.django_db(transaction=True)

KINDS = ["brand_analytics", "talkwalker", "json_feed"]


@pytest.fixture
def tool(request, fake_ba, fake_tw, fake_feed):
    """The fake of the kind under test (all three run; each test uses one)."""
    return {"brand_analytics": fake_ba, "talkwalker": fake_tw, "json_feed": fake_feed}[request.param]


def mentions(brand):
    return Mention.objects.for_brands([brand.pk])


@pytest.mark.parametrize("tool", KINDS, indirect=True)
def test_two_polls_fetch_every_mention_once(acme, tool, beat, request):
    kind = request.node.callspec.params["tool"]
    source = make_source(acme, kind, fake=tool)
    tool.add(5)

    assert beat.tick() == ["ok"]
    assert mentions(acme).count() == 5
    first = refreshed(source)
    assert first.mentions_received == 5 and first.last_cursor and first.status == SourceStatus.OK

    tool.add(4)
    due_now(source)
    assert beat.tick() == ["ok"]

    assert mentions(acme).count() == 9
    ids = list(mentions(acme).values_list("external_id", flat=True))
    assert len(ids) == len(set(ids)) == 9
    second = refreshed(source)
    assert second.mentions_received == 9
    assert second.failures == 0 and second.poll_token == ""
    # Next poll after the interval, not before.
    assert second.next_poll_at - second.last_polled_at == timedelta(seconds=300)


@pytest.mark.parametrize("tool", KINDS, indirect=True)
def test_a_poll_that_crashes_before_commit_loses_and_duplicates_nothing(
    acme, tool, beat, request, monkeypatch
):
    kind = request.node.callspec.params["tool"]
    source = make_source(acme, kind, fake=tool)
    tool.add(6)
    receive = waves.mentions_receive

    def crash_after_storing(**kwargs):
        receive(**kwargs)  # the rows are written in the poll's transaction …
        raise RuntimeError("worker lost between store and commit")  # … which never commits

    monkeypatch.setattr(waves, "mentions_receive", crash_after_storing)
    assert beat.tick() == ["failed"]
    crashed = refreshed(source)
    assert mentions(acme).count() == 0
    assert crashed.last_cursor == "" and crashed.mentions_received == 0
    assert crashed.failures == 1 and crashed.last_error

    monkeypatch.setattr(waves, "mentions_receive", receive)
    due_now(source)
    assert beat.tick() == ["ok"]
    assert mentions(acme).count() == 6
    assert refreshed(source).mentions_received == 6


def test_a_worker_killed_mid_poll_is_polled_again_after_the_lease(acme, fake_ba, beat, monkeypatch, settings):
    """A hard stop (not an exception the poll can record): the claim stays, the lease brings it back."""
    source = make_source(acme, "brand_analytics")
    fake_ba.add(3)
    receive = waves.mentions_receive

    def killed(**kwargs):
        receive(**kwargs)
        raise SystemExit(137)

    monkeypatch.setattr(waves, "mentions_receive", killed)
    with pytest.raises(SystemExit):
        beat.tick()
    assert mentions(acme).count() == 0
    held = refreshed(source)
    assert held.poll_token and held.last_cursor == ""
    assert beat.sweep() == []  # still leased: no second poll while the first might be alive

    monkeypatch.setattr(waves, "mentions_receive", receive)
    later = timezone.now() + timedelta(seconds=settings.SOURCES_LEASE_SECONDS + 1)
    assert beat.tick(now=later) == ["ok"]
    assert mentions(acme).count() == 3


def test_a_duplicate_or_stale_poll_task_does_nothing(acme, fake_ba, beat):
    make_source(acme, "brand_analytics")
    fake_ba.add(2)
    [(source_id, token)] = beat.sweep()
    assert polling.poll(source_id, token) == "ok"
    assert polling.poll(source_id, token) == "stale"  # redelivered copy
    assert polling.poll(source_id, "not-the-token") == "stale"
    assert len(fake_ba.server.requests) == 1
    assert mentions(acme).count() == 2


def test_a_source_failing_three_times_shows_its_error_and_backs_off(acme, fake_ba, beat):
    source = make_source(acme, "brand_analytics", interval_seconds=120)
    fake_ba.override = (503, b'{"error": {"message": "maintenance"}}')
    now = timezone.now()
    waits = []
    for _attempt in range(3):
        assert beat.tick(now=now) == ["failed"]
        row = refreshed(source)
        waits.append((row.next_poll_at - now).total_seconds())
        assert beat.sweep(now=row.next_poll_at - timedelta(seconds=1)) == []  # not before its time
        now = row.next_poll_at
    row = refreshed(source)
    assert row.failures == 3
    assert row.status == SourceStatus.FAILING
    assert "HTTP 503" in row.last_error and row.last_error_at is not None
    assert waits == [240, 480, 960]  # interval × 2, × 4, × 8

    fake_ba.override = None
    fake_ba.add(1)
    assert beat.tick(now=now) == ["ok"]
    row = refreshed(source)
    assert row.failures == 0 and row.status == SourceStatus.OK
    assert (row.next_poll_at - now).total_seconds() == 120


def test_backoff_is_capped(acme, fake_ba, beat, settings):
    settings.SOURCES_BACKOFF_MAX_SECONDS = 600
    source = make_source(acme, "brand_analytics", interval_seconds=120)
    assert polling.backoff(source, 10) == timedelta(seconds=600)


BAD_ANSWERS = {
    "truncated JSON": (200, b'{"data": {"messages": [{"id": "1", "timeStore": 17'),
    "not JSON": (200, b"<html>Bad gateway</html>"),
    "not UTF-8": (200, b'{"data": {"messages": "\xff\xfe"}}'),
    "messages not a list": (200, b'{"data": {"messages": {"id": 1}}}'),
    "answer not an object": (200, b"[1, 2, 3]"),
    "every message of the wrong types": (
        200,
        b'{"data": {"messages": [{"id": "1", "timeStore": "soon", "toneMark": "angry"},'
        b' {"id": null, "timeStore": 1}]}}',
    ),
    "deeply nested": (200, b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    "error in the body": (200, b'{"error": {"code": 7, "message": "theme \\u0000 not found"}}'),
    "redirect": (302, b""),
    "bad token": (401, b'{"error": {"message": "bad token"}}'),
}


@pytest.mark.parametrize("answer", BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_a_bad_answer_is_the_sources_error_never_a_crash(acme, fake_ba, beat, answer):
    source = make_source(acme, "brand_analytics")
    fake_ba.add(2)
    fake_ba.override = answer
    assert beat.tick() == ["failed"]
    row = refreshed(source)
    assert row.failures == 1 and row.last_error
    assert "\x00" not in row.last_error
    assert row.last_cursor == "" and mentions(acme).count() == 0


def test_a_huge_answer_is_refused_unread(acme, fake_ba, beat, settings):
    settings.SOURCES_MAX_RESPONSE_BYTES = 50_000
    source = make_source(acme, "brand_analytics")
    fake_ba.add(200, textNorm="x" * 1000)
    assert beat.tick() == ["failed"]
    row = refreshed(source)
    assert "more than 50000 bytes" in row.last_error
    assert mentions(acme).count() == 0


def test_unreadable_messages_are_skipped_and_named_the_rest_stored(acme, fake_ba, beat):
    source = make_source(acme, "brand_analytics")
    fake_ba.add(3)
    fake_ba.add(1, toneMark="furious")
    fake_ba.add(1, timeCreate=2**40)  # far in the future: the mention rule refuses it
    assert beat.tick() == ["ok"]
    row = refreshed(source)
    assert mentions(acme).count() == 3
    assert row.mentions_received == 3 and row.mentions_skipped == 2
    assert "toneMark" in row.last_error and row.failures == 0


def test_a_tools_answer_is_stored_like_posted_mentions_and_opens_a_wave(acme, fake_ba, beat):
    make_source(acme, "brand_analytics", name="BA main")
    fake_ba.add(12, tone=-1)
    assert beat.tick() == ["ok"]
    wave = Incident.objects.for_brands([acme.pk]).get(dedup_key=waves.WAVE_KEY)
    assert wave.channel == "vk"
    assert wave.events.get(kind="created").actor_label == "source:BA main"


def test_talkwalker_in_band_error_is_the_sources_error(acme, fake_tw, beat):
    source = make_source(acme, "talkwalker")
    fake_tw.override = (
        200,
        b'{"chunk_type": "CT_CONTROL", "chunk_control": {"resume_offset": "o0"}}\n'
        b'{"chunk_type": "CT_ERROR", "chunk_error": {"message": "credits exhausted"}}',
    )
    assert beat.tick() == ["failed"]
    assert "credits exhausted" in refreshed(source).last_error


def test_talkwalker_cut_at_the_cap_stores_up_to_its_last_resume_point(acme, fake_tw, beat, settings):
    source = make_source(acme, "talkwalker")
    fake_tw.add(30)
    body = fake_tw.route("GET", "/api/v3/stream/c/acme_collector/results", {"access_token": TW_TOKEN}, {})[1]
    settings.SOURCES_MAX_RESPONSE_BYTES = len(body) // 2
    settings.SOURCES_MAX_PAGES_PER_POLL = 1
    assert beat.tick() == ["ok"]
    row = refreshed(source)
    stored = mentions(acme).count()
    assert 0 < stored < 30 and stored % 3 == 0  # whole stretches between control chunks
    assert row.last_cursor == f"o{stored}"
    assert row.next_poll_at <= timezone.now()  # more to read: due again at once
    settings.SOURCES_MAX_PAGES_PER_POLL = 10
    beat.tick()
    assert mentions(acme).count() == 30


def test_json_feed_pages_until_it_has_no_more(acme, fake_feed, beat):
    source = make_source(acme, "json_feed", fake=fake_feed)
    fake_feed.add(5)
    assert beat.tick() == ["ok"]
    assert mentions(acme).count() == 5
    assert len(fake_feed.server.requests) == 3  # pages of two
    assert refreshed(source).last_cursor == "5"
    assert all(r["headers"]["Authorization"] == f"Bearer {FEED_TOKEN}" for r in fake_feed.server.requests)


def test_an_edit_of_the_query_during_a_poll_stores_nothing_of_it(acme, fake_ba, beat, monkeypatch):
    source = make_source(acme, "brand_analytics")
    fake_ba.add(2)
    [(source_id, token)] = beat.sweep()
    fetch = polling.POLLERS["brand_analytics"].fetch

    def edited_meanwhile(*args, **kwargs):
        page = fetch(*args, **kwargs)
        from integrations.sources import services

        services.source_update(source=Source.all_brands.get(pk=source_id), query="777")
        return page

    monkeypatch.setattr(polling.POLLERS["brand_analytics"], "fetch", edited_meanwhile)
    assert polling.poll(source_id, token) == "stale"
    assert mentions(acme).count() == 0
    row = refreshed(source)
    assert row.query == "777" and row.last_cursor == "" and row.next_poll_at is not None


def test_a_disabled_source_is_not_polled(acme, fake_ba, beat):
    source = make_source(acme, "brand_analytics", enabled=False)
    fake_ba.add(2)
    assert beat.tick() == []
    assert refreshed(source).status == SourceStatus.DISABLED
    assert fake_ba.server.requests == []


def test_the_guard_refuses_a_tool_on_a_private_address(acme, beat, settings):
    """Without `trusting`, loopback is refused by the guarded transport: shown, not connected."""
    settings.BRAND_ANALYTICS_API_URL = "http://127.0.0.1:9"
    source = make_source(acme, "brand_analytics")
    assert beat.tick() == ["failed"]
    assert (
        "not resolve to a public address" in refreshed(source).last_error
        or "https" in refreshed(source).last_error
    )


def test_credentials_never_reach_the_log_or_the_error(acme, beat, settings, caplog):
    caplog.set_level(logging.DEBUG)
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    settings.BRAND_ANALYTICS_API_URL = "http://127.0.0.1:9"  # nothing listens: connection refused
    settings.TALKWALKER_API_URL = "http://127.0.0.1:9"
    ba = make_source(acme, "brand_analytics")
    tw = make_source(acme, "talkwalker")
    assert sorted(beat.tick()) == ["failed", "failed"]
    errors = refreshed(ba).last_error + refreshed(tw).last_error
    assert "could not connect" in errors
    for secret in (BA_TOKEN, TW_TOKEN):
        assert secret not in caplog.text
        assert secret not in errors
    assert BA_TOKEN not in Source.all_brands.get(pk=ba.pk).credentials  # sealed at rest


def test_a_one_megabyte_message_is_stored_cut_to_the_mention_limit(acme, fake_ba, beat):
    make_source(acme, "brand_analytics")
    fake_ba.add(1, textNorm="x" * 1_000_000, authorRow={"name": "n" * 5000, "readers_count": 10**18})
    assert beat.tick() == ["ok"]
    mention = mentions(acme).get()
    assert len(mention.text) == 10_000 and len(mention.author) == 255
    assert mention.author_followers == 10**12
