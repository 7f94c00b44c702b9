"""
E-mail through Django's mail backend (`EMAIL_BACKEND`, `EMAIL_URL`).

An SMTP connection is opened once and kept: a batch's messages go one after another
over it (`send_messages` on an open connection does not close it), the next batch of
this worker process takes it again, and it is closed when the channel has been idle
for `NOTIFICATION_IDLE_CLOSE_SECONDS`. Each message is handed over on its own, so
that the server's answer is known per message: a refused recipient fails alone, and
when the server drops the connection only the message in flight is retried (the rest
of the batch goes on over a new connection).

The other backends (files under `VAR_DIR/mail/`, locmem in tests, console, dummy)
open and close per message as before: the file backend writes one file per
connection, and the demo's people read one file per e-mail.

Every message carries its notification's idempotency key, as `Message-ID` (mail
systems drop a second copy by it) and `X-Crisis-Idempotency-Key`.

Over SMTP a message is written by `render`, not by Django's `EmailMessage`: a
notification is always one plain-text part, and the general MIME writer (every header
re-folded through `email.header.Header`, each address parsed twice) cost more CPU than
the rest of its delivery, which made a burst of ten thousand e-mails CPU-bound
(figures: docs/benchmarks.md, escalation_lateness). `render` uses the standard
library's own encoders for the parts that need encoding, and a test holds its output
to Django's, parsed, for any subject, body and address.
"""

import base64
import contextlib
import functools
import quopri
import smtplib
import threading
import time
from email.header import Header
from email.utils import formatdate, parseaddr

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import RFC5322_EMAIL_LINE_LENGTH_LIMIT, sanitize_address

from .. import messages
from . import Channel, Limit, Outcome, split_evenly

IDEMPOTENCY_HEADER = "X-Crisis-Idempotency-Key"


def message_id(notification) -> str:
    """The Message-ID of a notification's e-mail: the same for every copy of it."""
    return f"<{notification.idempotency_key}@{_domain(settings.DEFAULT_FROM_EMAIL)}>"


@functools.lru_cache(maxsize=8)
def _domain(from_email: str) -> str:
    return parseaddr(from_email)[1].rpartition("@")[2] or "crisis-desk"


def email_of(notification) -> EmailMessage:
    # one_line: rows written before subjects were made one line are delivered too.
    return EmailMessage(
        messages.one_line(notification.subject),
        notification.body,
        settings.DEFAULT_FROM_EMAIL,
        [notification.target],
        headers={
            "Message-ID": message_id(notification),
            IDEMPOTENCY_HEADER: str(notification.idempotency_key),
        },
    )


@functools.lru_cache(maxsize=4096)
def address(addr: str) -> str:
    """An address as Django's SMTP backend sends it (IDNA domain, encoded name); ValueError if invalid."""
    return sanitize_address(addr, "utf-8")  # a burst writes to the same few people: cached


def encoded_words(text: str) -> str:
    """
    `text` as RFC 2047 encoded words, one per folded line: base64 of at most 45 bytes of
    UTF-8 each (75 characters with the markers, the RFC's limit), never splitting a
    character. A reader joins adjacent encoded words without the space between them.
    (`email.header.Header` does the same character by character, at several times the cost.)
    """
    words, chunk, size = [], [], 0
    for char in text:
        width = len(char.encode())
        if size + width > 45:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += width
    words.append("".join(chunk))
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(word.encode()).decode()}?=" for word in words)


def render(notification) -> bytes:
    """
    The message as Django's `EmailMessage` would write it, for a plain-text notification:
    the same headers and values, the body in UTF-8, 8bit unless a line is too long for it.
    """
    subject = messages.one_line(notification.subject)
    if not subject.isascii():
        subject = encoded_words(subject)
    elif len(subject) > 77:
        subject = Header(subject).encode(linesep="\r\n")  # folded at spaces
    body = notification.body.replace("\r\n", "\n").replace("\r", "\n").encode()
    if any(len(line) > RFC5322_EMAIL_LINE_LENGTH_LIMIT for line in body.split(b"\n")):
        body, transfer_encoding = quopri.encodestring(body), "quoted-printable"
    else:
        transfer_encoding = "8bit"
    head = (
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "MIME-Version: 1.0\r\n"
        f"Content-Transfer-Encoding: {transfer_encoding}\r\n"
        f"Subject: {subject}\r\n"
        f"From: {address(settings.DEFAULT_FROM_EMAIL)}\r\n"
        f"To: {address(notification.target)}\r\n"
        f"Date: {formatdate(localtime=settings.EMAIL_USE_LOCALTIME)}\r\n"
        f"Message-ID: {message_id(notification)}\r\n"
        f"{IDEMPOTENCY_HEADER}: {notification.idempotency_key}\r\n\r\n"
    )
    return head.encode() + body.replace(b"\n", b"\r\n")


def _refusal(exc: smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused) -> tuple[int, str]:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (450, b""))
    else:
        code, text = exc.smtp_code, exc.smtp_error
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return code, str(text)[:200]


class EmailChannel(Channel):
    def __init__(self):
        self.concurrency = max(1, settings.NOTIFICATION_EMAIL_CONNECTIONS)
        self.rate = settings.NOTIFICATION_EMAIL_RATE or None
        self._idle: list = []  # open connections no batch is using
        self._lock = threading.Lock()

    def batches(self, notifications):
        # Fewer than a handful each is not worth another connection.
        return split_evenly(notifications, self.concurrency, at_least=5)

    def limits(self, notification):
        return [Limit("email", self.rate)] if self.rate else ()

    def send_batch(self, notifications):
        connection = self._take()
        pooled = isinstance(connection, SmtpBackend)
        try:
            for notification in notifications:
                if not notification.target:
                    yield notification, Outcome.failed("e-mail: no address")
                    continue
                try:
                    if pooled:
                        if connection.connection is None:
                            connection.open()
                        # smtplib itself: the message is written by render(), not EmailMessage.
                        connection.connection.sendmail(
                            address(settings.DEFAULT_FROM_EMAIL),
                            [address(notification.target)],
                            render(notification),
                        )
                    else:
                        connection.send_messages([email_of(notification)])
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
                    # The connection is still good: the server refused this message only.
                    code, text = _refusal(exc)
                    error = f"e-mail: refused {code} {text}"
                    yield notification, (Outcome.failed(error) if code >= 500 else Outcome.retry(error))
                except (smtplib.SMTPException, OSError, ValueError) as exc:
                    # Dropped, timed out, refused at the door: retry this one, and open a
                    # new connection for the next (if that fails too, it is retried).
                    if pooled:
                        _close(connection)
                    yield notification, Outcome.retry(f"e-mail: {type(exc).__name__}: {exc}"[:300])
                else:
                    yield notification, Outcome.sent()
        finally:
            self._give_back(connection)

    def _take(self):
        with self._lock:
            while self._idle:
                connection, since = self._idle.pop()
                if time.monotonic() - since < settings.NOTIFICATION_IDLE_CLOSE_SECONDS:
                    return connection
                _close(connection)  # the server has likely dropped it already
        return get_connection()

    def _give_back(self, connection) -> None:
        if isinstance(connection, SmtpBackend) and connection.connection is not None:
            with self._lock:
                self._idle.append((connection, time.monotonic()))

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection, _since in idle:
            _close(connection)


def _close(connection) -> None:
    # QUIT on a connection the server dropped may fail in several ways; it is gone either way.
    with contextlib.suppress(smtplib.SMTPException, OSError):
        connection.close()
