"""
The web process as production runs it (`gunicorn -c config/gunicorn.py config.wsgi`): a body
the application refuses unread gets a 413 that says `Connection: close` and closes, instead of
promising keep-alive and then dropping the connection; ordinary requests keep it alive.
"""

import contextlib
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.live import ROOT, Process, base_env, free_port, wait_for_port

BIN = Path(sys.executable).parent
LIMIT = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    port = free_port()
    args = [
        str(BIN / "gunicorn"),
        "-c",
        str(ROOT / "config" / "gunicorn.py"),
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        "2",
    ]
    process = Process("web", args, base_env(), tmp_path_factory.mktemp("gunicorn"))
    wait_for_port(port, process)
    yield port
    process.stop()


def exchange(port: int, head: str, body: bytes = b"") -> tuple[str, dict, float | None]:
    """Send a request: the answer's status line, headers, and how soon the server closed (None: not)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # It may answer and close before taking all of it: what is read below says so.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            assert chunk, f"closed without an answer: {received!r}"
            received += chunk
        status, *lines = received.split(b"\r\n\r\n")[0].decode().split("\r\n")
        headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines)}
        sent_at = time.monotonic()
        sock.settimeout(3)
        try:
            while sock.recv(65536):
                pass
        except TimeoutError:
            return status, headers, None
        except ConnectionResetError:
            pass
        return status, headers, time.monotonic() - sent_at


def test_a_declared_body_over_the_limit_is_a_413_and_the_connection_closes(web):
    head = (
        "POST /api/v1/auth/token/ HTTP/1.1\nHost: 127.0.0.1\n"
        "Content-Type: multipart/form-data; boundary=xyz\n"
        f"Content-Length: {200 * 1024 * 1024}\n"
    )
    status, headers, closed_after = exchange(web, head, b"--xyz\r\n" + b"\0" * 4096)
    assert status.startswith("HTTP/1.1 413 ")
    assert headers["connection"] == "close"
    assert closed_after is not None and closed_after < 2


def test_a_chunked_body_over_the_limit_is_a_413_and_the_connection_closes(web):
    head = (
        "POST /api/v1/incidents/ HTTP/1.1\nHost: 127.0.0.1\n"
        "Content-Type: application/json\nTransfer-Encoding: chunked\n"
    )
    piece = b"x" * 65536
    body = (
        b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(LIMIT // len(piece) + 2)) + b"0\r\n\r\n"
    )
    status, headers, closed_after = exchange(web, head, body)
    assert status.startswith("HTTP/1.1 413 ")
    assert headers["connection"] == "close"
    assert closed_after is not None and closed_after < 2


def test_an_ordinary_request_keeps_the_connection(web):
    status, headers, closed_after = exchange(web, "GET /healthz HTTP/1.1\nHost: 127.0.0.1\n")
    assert status == "HTTP/1.1 200 OK"
    assert headers["connection"] == "keep-alive"
    assert closed_after is None
