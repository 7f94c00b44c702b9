"""
Signed JSON webhooks, through the guarded transport (`outbound.session`).

A delivery task's webhooks are split by target host; each host's share goes over
keep-alive connections of the transport's pool (at most
`NOTIFICATION_WEBHOOK_CONNECTIONS_PER_HOST` at once), the hosts in parallel. Every
connection the pool opens resolves, checks and pins its address again (rule 8): a
name that pointed outside when the channel was saved and points inside now is refused.

A host that answers 429 or 503 with `Retry-After` gets nothing more from any worker
before then (its limit key is paused); a host that does not answer in time, or
refuses the connection, gets nothing more from this batch: the rest of its share goes
back to the outbox untried, so a dead receiver costs one timeout per batch, not one
per message, and delays no other host's messages.
"""

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from django.conf import settings

from .. import outbound
from . import Channel, Limit, Outcome, split_evenly


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", hex; receivers recompute and compare."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def host_key(url: str) -> str:
    """The rate-limit key of a webhook URL: its scheme, host and port."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 0
    return f"webhook:{parts.scheme}://{(parts.hostname or '')[:200]}:{port}"


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds from now: a number of seconds or an HTTP date (None: absent or unreadable)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError, IndexError):
            return None
    return min(max(seconds, 0.0), settings.NOTIFICATION_BACKOFF_MAX_SECONDS)


class WebhookChannel(Channel):
    def __init__(self):
        self.concurrency = max(1, settings.NOTIFICATION_WEBHOOK_CONCURRENCY)
        self.per_host = max(1, settings.NOTIFICATION_WEBHOOK_CONNECTIONS_PER_HOST)
        self.rate = settings.NOTIFICATION_WEBHOOK_RATE_PER_HOST or None

    def batches(self, notifications):
        by_host: dict[str, list] = {}
        for notification in notifications:
            by_host.setdefault(host_key(notification.target), []).append(notification)
        return [part for share in by_host.values() for part in split_evenly(share, self.per_host)]

    def limits(self, notification):
        return [Limit(host_key(notification.target), self.rate)]

    def check_target(self, target: str) -> None:
        outbound.check_url(target)

    def send_batch(self, notifications):
        for notification in notifications:
            outcome, host_down = self.send(notification)
            yield notification, outcome
            if host_down:
                return  # the rest of the host's share waits, untried

    def send(self, notification) -> tuple[Outcome, bool]:
        """One POST: its outcome, and whether the host is down or hung (no answer at all)."""
        parts = urlsplit(notification.target)
        if parts.scheme not in outbound.SCHEMES or not parts.hostname:
            return Outcome.failed("webhook: not an http(s) URL with a host"), False
        body = json.dumps(notification.payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "CrisisDesk-Webhook/1",
            "Idempotency-Key": str(notification.idempotency_key),
            "X-Crisis-Timestamp": timestamp,
            "X-Crisis-Signature": "sha256=" + sign(notification.secret, timestamp, body),
        }
        try:
            # The address is checked again when the pool opens a connection: it may have
            # been public when the channel was saved and point inside now (DNS rebinding).
            response = outbound.session.post(
                notification.target,
                data=body,
                headers=headers,
                timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
        except outbound.Refused as exc:
            # Retried and shown like a closed port (NOT_DELIVERED); the reason names the host
            # and address, never the URL's path, which may be a secret token.
            return Outcome.retry(f"webhook: refused, {exc.reason}"), False
        except requests.RequestException as exc:
            # The class only: the message repeats the URL, whose path may be a secret token.
            host_down = isinstance(exc, requests.ConnectionError | requests.Timeout)
            return Outcome.retry(f"webhook: {type(exc).__name__}"), host_down
        status = response.status_code
        if 200 <= status < 300:
            return Outcome.sent(), False
        # Server trouble and throttling may pass; a redirect or a refusal will not. Only an
        # address that passed the guard can answer, so its status is the owner's to see.
        public = f"answered {status}"
        if status in (429, 503):
            after = retry_after_seconds(response.headers.get("Retry-After"))
            return Outcome.retry(f"webhook answered {status}", public=public, after=after), False
        if status >= 500 or status == 408:
            return Outcome.retry(f"webhook answered {status}", public=public), False
        return Outcome.failed(f"webhook answered {status}", public=public), False
