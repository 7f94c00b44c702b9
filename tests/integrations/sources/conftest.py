"""
Local fakes of the polled tools, on loopback, speaking their HTTP shapes, and helpers to
run the sweeper and the polls the way beat and the workers would.

Each fake is a real HTTP server on 127.0.0.1 (a thread); the guarded transport is told
to trust exactly that address and port (`outbound.trusting`), as the outbound tests do.
"""

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from incidents import outbound
from integrations.sources import polling, services
from integrations.sources.models import Source

BA_TOKEN = "ba-secret-token-4f1c9e"
TW_TOKEN = "tw-secret-token-77ab01"
FEED_TOKEN = "feed-secret-token-a9d2"


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # The desk closes a connection it has read enough of (a cut answer): not a fault here.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeServer:
    """A loopback HTTP server; `route(method, path, query, headers) -> (status, body bytes)`."""

    def __init__(self, route):
        self.route = route
        self.requests: list[dict] = []
        self.in_flight: Counter = Counter()
        self.most_in_flight: Counter = Counter()
        self.delay = 0.0
        # What counts as "one source" for the in-flight tally (the path, unless told).
        self.key_of = lambda path, query: path
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # As real servers do: a response's header and body writes would otherwise wait
            # for the client's delayed ACK (Nagle), ~40 ms a request on a kept-alive connection.
            disable_nagle_algorithm = True

            def do_GET(self):
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                key = fake.key_of(parts.path, query)
                with fake._lock:
                    fake.requests.append({"path": parts.path, "query": query, "headers": dict(self.headers)})
                    fake.in_flight[key] += 1
                    fake.most_in_flight[key] = max(fake.most_in_flight[key], fake.in_flight[key])
                try:
                    if fake.delay:
                        time.sleep(fake.delay)
                    status, body = fake.route("GET", parts.path, query, self.headers)
                finally:
                    with fake._lock:
                        fake.in_flight[key] -= 1
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        self._trust = outbound.trusting("127.0.0.1", self.port)
        self._trust.__enter__()
        return self

    def __exit__(self, *exc):
        self._trust.__exit__(*exc)
        self.server.shutdown()
        self.server.server_close()


class BrandAnalyticsFake:
    """`GET /v1/Feed.messages`: a theme's messages with timeStore >= timeStoreFrom, oldest stored first."""

    def __init__(self):
        self.messages: list[dict] = []
        self.override = None  # (status, body) to answer instead, for faults
        self.next_id = 1

    def add(self, count=1, *, tone=-1, stored=None, hub="vk.com", **fields):
        base = stored or int(time.time()) - 60
        for _ in range(count):
            n = self.next_id
            self.next_id += 1
            self.messages.append(
                {
                    "id": str(1000 + n),
                    "url": f"https://vk.com/wall-1_{n}",
                    "timeCreate": base - 30,
                    "timeStore": base,
                    "toneMark": tone,
                    "hubName": hub,
                    "hubtypeId": 1,
                    "authorRow": {"name": f"Author {n}", "readers_count": 150 + n},
                    "textNorm": f"Message {n} about the coffee",
                    "text": f"<b>Message {n}</b> about the coffee",
                    **fields,
                }
            )

    def route(self, method, path, query, headers):
        if self.override is not None:
            return self.override
        if path != "/v1/Feed.messages":
            return 404, b'{"error": {"code": 404, "message": "no such method"}}'
        if query.get("token") != BA_TOKEN:
            return 401, b'{"error": {"code": 401, "message": "bad token"}}'
        since = int(query["timeStoreFrom"])
        limit = int(query["limit"])
        rows = sorted(
            (m for m in self.messages if m["timeStore"] >= since), key=lambda m: (m["timeStore"], m["id"])
        )
        return 200, json.dumps({"data": {"messages": rows[:limit]}}).encode()


class TalkwalkerFake:
    """`GET /api/v3/stream/c/{collector}/results`: CT_CONTROL/CT_RESULT chunks from resume_offset."""

    def __init__(self, collector="acme_collector"):
        self.collector = collector
        self.documents: list[dict] = []
        self.override = None
        self.control_every = 3

    def add(self, count=1, *, sentiment=-3, **fields):
        for _ in range(count):
            n = len(self.documents) + 1
            self.documents.append(
                {
                    "url": f"https://twitter.com/someone/status/{9000 + n}",
                    "published": int(time.time() * 1000) - 60_000,
                    "title": "",
                    "content": f"Tweet {n}: the coffee was cold",
                    "sentiment": sentiment,
                    "source_type": ["SOCIALMEDIA", "SOCIALMEDIA_TWITTER"],
                    "reach": 2000 + n,
                    "extra_author_attributes": {"id": f"tw:{n}", "name": f"someone{n}"},
                    **fields,
                }
            )

    def route(self, method, path, query, headers):
        if self.override is not None:
            return self.override
        if path != f"/api/v3/stream/c/{self.collector}/results":
            return 404, b'{"status_code": "5", "status_message": "not found"}'
        if query.get("access_token") != TW_TOKEN:
            return 401, b'{"status_code": "9", "status_message": "bad token"}'
        offset = query.get("resume_offset", "earliest")
        start = 0 if offset == "earliest" else int(offset.removeprefix("o"))
        chunks = [
            {
                "chunk_type": "CT_CONTROL",
                "chunk_control": {"resume_offset": f"o{start}", "collector_id": self.collector},
            }
        ]
        for index in range(start, len(self.documents)):
            chunks.append(
                {"chunk_type": "CT_RESULT", "chunk_result": {"data": {"data": self.documents[index]}}}
            )
            if (index + 1 - start) % self.control_every == 0:
                chunks.append(
                    {"chunk_type": "CT_CONTROL", "chunk_control": {"resume_offset": f"o{index + 1}"}}
                )
        chunks.append(
            {"chunk_type": "CT_CONTROL", "chunk_control": {"resume_offset": f"o{len(self.documents)}"}}
        )
        return 200, "\n".join(json.dumps(c, indent=1) for c in chunks).encode()


class JsonFeedFake:
    """`GET /feed?cursor=N`: our own shape, two mentions a page, `has_more` while there are more."""

    page_size = 2

    def __init__(self):
        self.mentions: list[dict] = []
        self.override = None

    def add(self, count=1, *, sentiment="negative", **fields):
        for _ in range(count):
            n = len(self.mentions) + 1
            self.mentions.append(
                {
                    "external_id": f"post-{n}",
                    "platform": "telegram",
                    "url": f"https://t.me/channel/{n}",
                    "author": f"channel {n}",
                    "author_followers": 10 * n,
                    "text": f"Post {n}",
                    "sentiment": sentiment,
                    "reach": 100 * n,
                    "published_at": "2026-11-29T10:00:00Z",
                    "score": 0.7,  # a field of the script's own: ignored
                    **fields,
                }
            )

    def route(self, method, path, query, headers):
        if self.override is not None:
            return self.override
        if headers.get("Authorization") != f"Bearer {FEED_TOKEN}":
            return 401, b'{"detail": "no"}'
        start = int(query.get("cursor", "0"))
        page = self.mentions[start : start + self.page_size]
        following = start + len(page)
        return 200, json.dumps(
            {"mentions": page, "cursor": str(following), "has_more": following < len(self.mentions)}
        ).encode()


@pytest.fixture
def fake_ba(settings):
    tool = BrandAnalyticsFake()
    with FakeServer(tool.route) as server:
        settings.BRAND_ANALYTICS_API_URL = server.url
        tool.server = server
        yield tool


@pytest.fixture
def fake_tw(settings):
    tool = TalkwalkerFake()
    with FakeServer(tool.route) as server:
        settings.TALKWALKER_API_URL = server.url
        tool.server = server
        yield tool


@pytest.fixture
def fake_feed():
    tool = JsonFeedFake()
    with FakeServer(tool.route) as server:
        tool.server = server
        tool.url = f"{server.url}/feed"
        yield tool


def make_source(brand, kind, *, fake=None, **fields):
    """A source through the service, as a manager would make it."""
    defaults = {
        "brand_analytics": {"query": "12505867", "credentials": BA_TOKEN},
        "talkwalker": {"query": "acme_collector", "credentials": TW_TOKEN},
        "json_feed": {"query": getattr(fake, "url", "https://feed.example/"), "credentials": FEED_TOKEN},
    }[kind]
    values = {"name": f"{kind} source", "interval_seconds": 300, **defaults, **fields}
    return services.source_create(brand=brand, kind=kind, **values)


class Beat:
    """The sweeper and the poll tasks, run in this thread: what was published is polled."""

    def __init__(self, monkeypatch):
        self.published: list[tuple] = []
        monkeypatch.setattr(polling, "publish_on_commit", lambda task, args: self.published.append(args))

    def sweep(self, now=None) -> list[tuple]:
        before = len(self.published)
        polling.sweep(now=now)
        return self.published[before:]

    def tick(self, now=None) -> list[str]:
        """One beat tick and the polls it published, each to its end."""
        return [polling.poll(source_id, token, now=now) for source_id, token in self.sweep(now=now)]


@pytest.fixture
def beat(monkeypatch):
    return Beat(monkeypatch)


def refreshed(source) -> Source:
    return Source.all_brands.get(pk=source.pk)


def due_now(source):
    """Make a source due at once (as time passing would)."""
    Source.all_brands.filter(pk=source.pk).update(next_poll_at=polling.timezone.now())
