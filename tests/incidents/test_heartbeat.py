"""The dead-man's switch: a sweep pings HEARTBEAT_URL; a dead or silent listener costs the sweep nothing."""

import http.server
import logging
import socket
import threading
import time

import pytest

from incidents import clock, heartbeat
from tests.live import free_port, wait_until


@pytest.fixture(autouse=True)
def _fresh_heartbeat():
    heartbeat.reset()
    yield
    heartbeat.reset()


@pytest.fixture
def listener():
    """An HTTP server on 127.0.0.1 that answers 200 and records the paths it was asked for."""
    paths = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ping/desk", paths
    server.shutdown()
    server.server_close()


def test_a_sweep_pings_the_heartbeat_url(db, settings, listener):
    url, paths = listener
    settings.HEARTBEAT_URL = url
    clock.sweep()
    assert wait_until(lambda: paths, timeout=5) == ["/ping/desk"]


def test_at_most_one_ping_per_interval(db, settings, listener):
    url, paths = listener
    settings.HEARTBEAT_URL, settings.HEARTBEAT_PING_SECONDS = url, 60
    for _ in range(3):
        clock.sweep()
    assert wait_until(lambda: paths, timeout=5)
    time.sleep(0.3)
    assert paths == ["/ping/desk"]
    settings.HEARTBEAT_PING_SECONDS = 0
    assert wait_until(lambda: heartbeat.ping_soon() is not None, timeout=5)  # once the first is done
    assert wait_until(lambda: len(paths) == 2, timeout=5)


def test_without_a_url_nothing_is_pinged(db, settings, listener):
    settings.HEARTBEAT_URL = ""
    clock.sweep()
    assert heartbeat.ping_soon() is None


def test_a_dead_listener_does_not_fail_the_sweep(db, settings, caplog):
    settings.HEARTBEAT_URL = f"http://127.0.0.1:{free_port()}/ping/desk"  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="incidents.heartbeat"):
        assert clock.sweep()["fired"] == 0
        assert wait_until(lambda: "heartbeat ping failed: ConnectionError" in caplog.text, timeout=5)
    assert "ping/desk" not in caplog.text  # a check's URL is a secret of sorts: not logged
    # A failed ping is tried again at the next sweep, not an interval later.
    assert wait_until(lambda: heartbeat.ping_soon() is not None, timeout=5)


def test_a_listener_that_never_answers_does_not_delay_the_sweep(db, settings):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections are accepted by the kernel; nothing is ever answered
        settings.HEARTBEAT_URL = f"http://127.0.0.1:{silent.getsockname()[1]}/ping/desk"
        started = time.monotonic()
        clock.sweep()
        took = time.monotonic() - started
        assert heartbeat._state["in_flight"]  # the ping still waits for its answer …
        assert took < heartbeat.TIMEOUT_SECONDS / 2, took  # … and the sweep did not
        settings.HEARTBEAT_PING_SECONDS = 0
        clock.sweep()
        assert heartbeat.ping_soon() is None  # never two in flight
