"""
A local SMTP server (aiosmtpd) that accepts everything, counts the connections it is
opened, and records each message by the desk's idempotency key — the receiver that
`bench/escalation_lateness.py` delivers to, and the tests' mail server.

    .venv/bin/python -m bench.smtp_sink --port 2525 --connect-delay 0.05 --message-delay 0.002 --log sink.log

It can be made to cost like a real server (`connect_delay` before the greeting's
answer to EHLO of each new connection, `message_delay` before accepting a message),
to refuse recipients (550), and to drop a connection instead of accepting a message.
With `--log`, one line per event: "connection <time>", "accepted <time> <key> <to>".
Only 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
import socket
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

IDEMPOTENCY_HEADER = "X-Crisis-Idempotency-Key"  # incidents/channels/email.py
HOST = "127.0.0.1"
# aiosmtpd logs every command at INFO: thousands of lines per burst.
logging.getLogger("mail.log").setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def header(message: bytes, name: str) -> str:
    """A header's first line (the desk's idempotency key never folds), without parsing the message."""
    head = message.split(b"\r\n\r\n", 1)[0]
    match = re.search(
        rb"^" + re.escape(name.encode()) + rb":[ \t]*(.*?)\r?$", head, re.MULTILINE | re.IGNORECASE
    )
    return match.group(1).decode(errors="replace") if match else ""


class _Handler:
    def __init__(self, sink: SmtpSink):
        self.sink = sink

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.sink.connect_delay and not getattr(session, "greeted", False):
            session.greeted = True
            await asyncio.sleep(self.sink.connect_delay)  # TCP, TLS and AUTH of a real server
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.sink.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.sink.message_delay:
            await asyncio.sleep(self.sink.message_delay)
        with self.sink.lock:
            drop = self.sink.drop_at is not None and self.sink.data_count + 1 >= self.sink.drop_at
            if drop:
                self.sink.drop_at = None
                self.sink.dropped += 1
            else:
                self.sink.data_count += 1
        if drop:
            # Gone before answering: the message is not accepted, the client sees a dropped connection.
            server.transport.abort()
            return "421 gone"
        content = envelope.original_content or b""
        self.sink.accept(header(content, IDEMPOTENCY_HEADER), envelope.rcpt_tos, header(content, "Subject"))
        return "250 Message accepted for delivery"


class _CountingSMTP(SMTP):
    def __init__(self, sink: SmtpSink, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sink = sink

    def connection_made(self, transport):
        with self.sink.lock:
            self.sink.connections += 1
            self.sink.open_connections += 1
        self.sink.log("connection")
        super().connection_made(transport)

    def connection_lost(self, error):
        with self.sink.lock:
            self.sink.open_connections -= 1
        super().connection_lost(error)


class _Controller(Controller):
    def __init__(self, sink: SmtpSink, **kwargs):
        super().__init__(_Handler(sink), hostname=HOST, port=sink.port, **kwargs)
        self.sink = sink

    def factory(self):
        return _CountingSMTP(self.sink, self.handler, **self.SMTP_kwargs)


class SmtpSink:
    """The server: start() it, read `connections`, `accepted` (key → [(time, recipients)]), `duplicates()`."""

    def __init__(
        self,
        *,
        port: int | None = None,
        connect_delay: float = 0.0,
        message_delay: float = 0.0,
        refuse: frozenset[str] = frozenset(),
        log_path: str | None = None,
    ):
        self.port = port or free_port()
        self.connect_delay = connect_delay
        self.message_delay = message_delay
        self.refuse = set(refuse)
        self.lock = threading.Lock()
        self.connections = self.open_connections = self.data_count = self.dropped = 0
        self.drop_at: int | None = None
        self.accepted: dict[str, list[tuple[float, list[str]]]] = {}
        self.subjects: list[str] = []
        self._log = open(log_path, "a", buffering=1) if log_path else None  # noqa: SIM115 - closed in stop()
        self._controller = _Controller(self)

    def start(self) -> SmtpSink:
        self._controller.start()
        with self.lock:  # the controller's own readiness probe is not a client's connection
            self.connections = 0
        return self

    def stop(self) -> None:
        self._controller.stop()
        if self._log:
            self._log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def drop_after(self, messages: int) -> None:
        """Accept `messages` more messages, then drop the connection instead of accepting the next."""
        with self.lock:
            self.drop_at = self.data_count + messages + 1

    def accept(self, key: str, recipients: list[str], subject: str) -> None:
        at = time.time()
        with self.lock:
            self.accepted.setdefault(key, []).append((at, list(recipients)))
            self.subjects.append(subject)
        self.log("accepted", key, ",".join(recipients))

    def duplicates(self) -> list[str]:
        with self.lock:
            return [key for key, copies in self.accepted.items() if len(copies) > 1]

    def recipients(self) -> list[str]:
        with self.lock:
            return sorted(r for copies in self.accepted.values() for _at, rs in copies for r in rs)

    def log(self, *words: str) -> None:
        if self._log:
            self._log.write(" ".join([words[0], f"{time.time():.6f}", *words[1:]]) + "\n")


class _LeanSession(asyncio.Protocol):
    """
    One connection of the lean server: the commands smtplib sends, answered in order.
    The client waits for each answer (smtplib does not pipeline), so a command is
    complete when its line is; a message when its data ends in CRLF.CRLF.
    """

    def __init__(self, sink: SmtpSink):
        self.sink = sink
        self.buffer = b""
        self.in_data = self.greeted = False
        self.recipients: list[str] = []

    def connection_made(self, transport):
        self.transport = transport
        with self.sink.lock:
            self.sink.connections += 1
        self.sink.log("connection")
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.in_data:
            if self.buffer.endswith(b"\r\n.\r\n"):
                content, self.buffer, self.in_data = self.buffer, b"", False
                self._later(self.sink.message_delay, self._accept, content)
            return
        if not self.buffer.endswith(b"\r\n"):
            return
        line, self.buffer = self.buffer, b""
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            answer = b"250-sink\r\n250 8BITMIME\r\n" if verb == b"EHLO" else b"250 sink\r\n"
            delay = 0.0 if self.greeted else self.sink.connect_delay  # TCP, TLS and AUTH of a real server
            self.greeted = True
            self._later(delay, self.transport.write, answer)
        elif verb == b"MAIL":
            self.recipients = []
            self.transport.write(b"250 OK\r\n")
        elif verb == b"RCPT":
            self.recipients.append(line[8:].strip().strip(b"<>").decode(errors="replace"))
            self.transport.write(b"250 OK\r\n")
        elif verb == b"DATA":
            self.in_data = True
            self.transport.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
        elif verb == b"QUIT":
            self.transport.write(b"221 Bye\r\n")
            self.transport.close()
        else:  # RSET, NOOP
            self.transport.write(b"250 OK\r\n")

    def _accept(self, content: bytes) -> None:
        self.sink.accept(header(content, IDEMPOTENCY_HEADER), self.recipients, header(content, "Subject"))
        self.transport.write(b"250 Message accepted for delivery\r\n")

    def _later(self, delay: float, callback, *args) -> None:
        if delay:
            asyncio.get_running_loop().call_later(delay, callback, *args)
        else:
            callback(*args)


def serve_lean(sink: SmtpSink, stopped: threading.Event) -> None:
    """
    The benchmark's server: the same counting, delays and log as the aiosmtpd one, for the
    few commands smtplib sends, without aiosmtpd's per-command machinery. aiosmtpd took
    about half as much CPU per message as the desk's whole delivery, on the two cores the
    benchmark shares with the worker and PostgreSQL; a real mail server runs elsewhere
    (figures: docs/benchmarks.md). The tests keep aiosmtpd, which also refuses and drops.
    """

    async def run() -> None:
        server = await asyncio.get_running_loop().create_server(lambda: _LeanSession(sink), HOST, sink.port)
        print(f"listening on {HOST}:{sink.port}", flush=True)
        async with server:
            while not stopped.is_set():
                await asyncio.sleep(0.2)

    asyncio.run(run())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--connect-delay", type=float, default=0.0, help="seconds added to each new connection"
    )
    parser.add_argument("--message-delay", type=float, default=0.0, help="seconds added to each message")
    parser.add_argument("--log", required=True, help="file to append events to")
    parser.add_argument(
        "--lean", action="store_true", help="the lean server (benchmarks) instead of aiosmtpd"
    )
    args = parser.parse_args(argv)
    sink = SmtpSink(
        port=args.port, connect_delay=args.connect_delay, message_delay=args.message_delay, log_path=args.log
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    if args.lean:
        serve_lean(sink, stopped)
        return
    with sink:
        print(f"listening on {HOST}:{sink.port}", flush=True)
        stopped.wait()


if __name__ == "__main__":
    main()
