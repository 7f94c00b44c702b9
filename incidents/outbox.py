"""
Notifications: written to the outbox inside the transaction that caused them,
delivered by tasks after commit, retried with exponential backoff.

Channels are a plain dict of adapters (`ADAPTERS`): e-mail through Django's
mail backend, signed JSON webhooks, and chat services through Apprise URLs.
An adapter raises `DeliveryError` (retryable or not) or returns quietly.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import apprise
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from crisis.models import Membership

from . import messages
from .models import ChannelKind, ContactChannel, EventKind, Incident, Notification
from .models import NotificationStatus as Status
from .publish import TASKS, publish_now, publish_on_commit
from .timeline import timeline_record

logger = logging.getLogger(__name__)
LEASE_SECONDS = 60


class DeliveryError(Exception):
    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


# --- Who hears about it -----------------------------------------------------------


def recipients(*, brand_id: int, roles=(), usernames=()) -> list:
    """Active members of the brand holding one of `roles` (or marked executive), or named."""
    wanted = Q(role__in=[r for r in roles if r != "executive"])
    if "executive" in roles:
        wanted |= Q(is_executive=True)
    if usernames:
        wanted |= Q(user__username__in=list(usernames))
    memberships = (
        Membership.objects.for_brands([brand_id])
        .filter(wanted, user__is_active=True)
        .select_related("user")
        .order_by("user__username")
    )
    return [m.user for m in memberships]


def channels_of(users) -> dict[int, list[tuple[str, str, str]]]:
    """(kind, target, secret) per user id; a user without channels gets their e-mail."""
    found: dict[int, list] = {user.pk: [] for user in users}
    for channel in ContactChannel.objects.filter(user__in=users, is_active=True):
        found[channel.user_id].append((channel.kind, channel.target, channel.secret))
    for user in users:
        if not found[user.pk] and user.email:
            found[user.pk].append((ChannelKind.EMAIL, user.email, ""))
    return found


# --- Writing to the outbox -----------------------------------------------------------


@dataclass
class Message:
    """What to tell `users` about `incident`; one notification per user and channel."""

    incident: Incident
    users: list
    reason: str
    subject: str
    body: str
    payload: dict


# Notifications handed to one delivery task: a burst of escalations becomes a few
# hundred tasks instead of tens of thousands, each still leased and retried per row.
DELIVERY_CHUNK = 20


def enqueue(messages: list[Message], *, now) -> list[Notification]:
    """Write the messages' notifications. Call inside the causing transaction."""
    channels = channels_of(list({user.pk: user for m in messages for user in m.users}.values()))
    retry_at = now + timedelta(seconds=settings.NOTIFICATION_REPUBLISH_SECONDS)
    rows = [
        Notification(
            incident=m.incident,
            recipient=user,
            channel=kind,
            target=target,
            secret=secret,
            reason=m.reason,
            subject=m.subject[:300],
            body=m.body,
            payload=m.payload,
            idempotency_key=uuid.uuid4(),
            created_at=now,
            next_attempt_at=retry_at,
        )
        for m in messages
        for user in m.users
        for kind, target, secret in channels[user.pk]
    ]
    Notification.objects.bulk_create(rows)
    ids = [row.pk for row in rows]
    for start in range(0, len(ids), DELIVERY_CHUNK):
        publish_on_commit(TASKS.DELIVER_NOTIFICATIONS, args=(ids[start : start + DELIVERY_CHUNK],))
    return rows


# --- Delivering ------------------------------------------------------------------------


def deliver(notification_id: int, *, now=None) -> str:
    """Try to send one notification; returns "sent", "retry", "failed" or "skipped"."""
    now = now or timezone.now()
    # Lease it: of two workers handed the same notification, one sends. Delivery is the
    # desk's own work on every brand's outbox: `all_brands` here and below.
    leased = Notification.all_brands.filter(
        Q(leased_until__isnull=True) | Q(leased_until__lt=now),
        pk=notification_id,
        status=Status.PENDING,
    ).update(attempts=F("attempts") + 1, leased_until=now + timedelta(seconds=LEASE_SECONDS))
    if not leased:
        return "skipped"
    notification = Notification.all_brands.select_related("incident").get(pk=notification_id)
    try:
        ADAPTERS[notification.channel](notification)
    except DeliveryError as exc:
        error, retryable = str(exc)[:1000], exc.retryable
    except Exception as exc:  # an adapter bug must not leave the row leased forever
        logger.exception("notification %s: adapter crashed", notification_id)
        error, retryable = f"{type(exc).__name__}"[:1000], True
    else:
        error, retryable = "", False

    finished = timezone.now()
    if not error:
        outcome, fields = "sent", {"status": Status.SENT, "sent_at": finished, "next_attempt_at": None}
    elif retryable and notification.attempts < settings.NOTIFICATION_MAX_ATTEMPTS:
        outcome, fields = (
            "retry",
            {"next_attempt_at": finished + timedelta(seconds=backoff_seconds(notification.attempts))},
        )
    else:
        outcome, fields = "failed", {"status": Status.FAILED, "next_attempt_at": None}
    with transaction.atomic():
        Notification.all_brands.filter(pk=notification_id).update(
            leased_until=None, last_error=error, **fields
        )
        timeline_record(
            incident=notification.incident,
            kind=EventKind.NOTIFIED,
            at=finished,
            data={
                "channel": notification.channel,
                "reason": notification.reason,
                "recipient": _username(notification.recipient_id),
                "attempt": notification.attempts,
                "outcome": outcome,
                "error": error,
            },
        )
    return outcome


def backoff_seconds(attempts: int) -> float:
    """Exponential: base, twice that, four times, … capped."""
    return min(
        settings.NOTIFICATION_BACKOFF_SECONDS * 2 ** (attempts - 1), settings.NOTIFICATION_BACKOFF_MAX_SECONDS
    )


def republish_due(*, now, limit: int = 1000) -> int:
    """Publish again the pending notifications whose task was lost or whose retry is due."""
    due = list(
        Notification.all_brands.filter(status=Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", "next_attempt_at")[:limit]
    )
    later = now + timedelta(seconds=settings.NOTIFICATION_REPUBLISH_SECONDS)
    # Compare-and-set per row, so that two sweepers do not both publish it.
    ids = [
        pk
        for pk, previous in due
        if Notification.all_brands.filter(pk=pk, next_attempt_at=previous).update(next_attempt_at=later)
    ]
    for start in range(0, len(ids), DELIVERY_CHUNK):
        publish_now(TASKS.DELIVER_NOTIFICATIONS, args=(ids[start : start + DELIVERY_CHUNK],))
    return len(ids)


def _username(user_id):
    if user_id is None:
        return None
    return get_user_model().objects.filter(pk=user_id).values_list("username", flat=True).first()


# --- Channels --------------------------------------------------------------------------


def send_email(notification: Notification) -> None:
    try:
        # one_line: rows written before subjects were made one line are delivered too.
        send_mail(
            messages.one_line(notification.subject),
            notification.body,
            settings.DEFAULT_FROM_EMAIL,
            [notification.target],
        )
    except (OSError, ValueError) as exc:
        raise DeliveryError(f"e-mail: {exc}") from exc


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", hex; receivers recompute and compare."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def check_webhook_target(url: str) -> None:
    """Refuse non-HTTP URLs, and hosts resolving to private, loopback or link-local addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError("webhook URL must be http(s) with a host", retryable=False)
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise DeliveryError(f"cannot resolve {parts.hostname[:100]}: {type(exc).__name__}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            raise DeliveryError(f"refused address {address} for {parts.hostname}", retryable=False)


def send_webhook(notification: Notification) -> None:
    check_webhook_target(notification.target)
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
        response = requests.post(
            notification.target,
            data=body,
            headers=headers,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        # The class only: the message repeats the URL, whose path may be a secret token.
        raise DeliveryError(f"webhook: {type(exc).__name__}") from exc
    if 200 <= response.status_code < 300:
        return
    # Server trouble and throttling may pass; a redirect or a refusal will not.
    retryable = response.status_code >= 500 or response.status_code in (408, 429)
    raise DeliveryError(f"webhook answered {response.status_code}", retryable=retryable)


# Apprise's generic notifiers post to any host the URL names: the same address
# rules as webhooks apply to them. Service schemes (tgram, slack, …) go to the
# services' own public hosts.
GENERIC_APPRISE = {
    "json": "http",
    "jsons": "https",
    "xml": "http",
    "xmls": "https",
    "form": "http",
    "forms": "https",
}


def check_apprise_target(url: str) -> None:
    """Refuse an unusable Apprise URL, or a generic one aimed at a refused address."""
    if not apprise.Apprise().add(url):
        raise DeliveryError("not a usable Apprise URL", retryable=False)
    scheme, _sep, rest = url.partition("://")
    if scheme.lower() in GENERIC_APPRISE:
        check_webhook_target(f"{GENERIC_APPRISE[scheme.lower()]}://{rest}")


def send_apprise(notification: Notification) -> None:
    check_apprise_target(notification.target)
    sender = apprise.Apprise()
    if not sender.add(notification.target):
        raise DeliveryError("not a usable Apprise URL", retryable=False)
    if not sender.notify(title=notification.subject, body=notification.body):
        raise DeliveryError("Apprise could not deliver the message")


ADAPTERS = {
    ChannelKind.EMAIL: send_email,
    ChannelKind.WEBHOOK: send_webhook,
    ChannelKind.APPRISE: send_apprise,
}


def new_webhook_secret() -> str:
    return secrets.token_hex(32)


def contact_channel_add(*, user, kind: str, target: str) -> ContactChannel:
    secret = new_webhook_secret() if kind == ChannelKind.WEBHOOK else ""
    return ContactChannel.objects.create(user=user, kind=kind, target=target, secret=secret)
