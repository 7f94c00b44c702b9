"""
Notifications: written to the outbox inside the transaction that caused them,
delivered by tasks after commit, retried with exponential backoff.

Channels are a plain dict of adapters (`ADAPTERS`): e-mail through Django's
mail backend, signed JSON webhooks, and chat services through Apprise URLs.
An adapter raises `DeliveryError` (retryable or not) or returns quietly.
Webhooks and Apprise go out only through the guarded transport (`outbound.py`),
which checks every address again when it connects; a target is also checked when
its channel is saved (`contact_channel_add`).
"""

import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import apprise
import requests
from apprise.utils.parse import parse_urls
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from api.errors import DomainError, InvalidInput
from crisis.models import Membership

from . import messages, outbound
from .models import ChannelKind, ContactChannel, EventKind, Incident, Notification
from .models import NotificationStatus as Status
from .publish import TASKS, publish_now, publish_on_commit
from .timeline import timeline_record

logger = logging.getLogger(__name__)
LEASE_SECONDS = 60


# What the incident's timeline says of a delivery that did not go through, whatever the
# cause: a refused address, a closed port and a timeout must look alike to the person
# who set the channel's URL, or the timeline becomes a scanner of the desk's network.
NOT_DELIVERED = "not delivered"


class DeliveryError(Exception):
    """A failed delivery: str() is the detail for the server (`last_error`), `public` for the timeline."""

    def __init__(self, message: str, *, retryable: bool = True, public: str = NOT_DELIVERED):
        super().__init__(message)
        self.retryable = retryable
        self.public = public


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
    """
    What to tell `users` about `incident`, or about a brand when there is no incident;
    one notification per user and channel, and one e-mail per address in `addresses`
    (people with no account yet: an invitation's).
    """

    incident: Incident | None
    users: list
    reason: str
    subject: str
    body: str
    payload: dict
    brand_id: int | None = None  # the incident's, when there is one
    addresses: tuple[str, ...] = ()
    # The rows `enqueue` wrote for this message (ids set): what its timeline event names.
    notifications: list[Notification] = field(default_factory=list)

    def __post_init__(self):
        if self.brand_id is None:
            self.brand_id = self.incident.brand_id


# Notifications handed to one delivery task: a burst of escalations becomes a few
# hundred tasks instead of tens of thousands, each still leased and retried per row.
DELIVERY_CHUNK = 20


def enqueue(messages: list[Message], *, now) -> list[Notification]:
    """Write the messages' notifications. Call inside the causing transaction."""
    channels = channels_of(list({user.pk: user for m in messages for user in m.users}.values()))
    retry_at = now + timedelta(seconds=settings.NOTIFICATION_REPUBLISH_SECONDS)

    def make_row(m: Message, recipient, kind: str, target: str, secret: str) -> Notification:
        return Notification(
            brand_id=m.brand_id,
            incident=m.incident,
            recipient=recipient,
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

    for m in messages:
        m.notifications = [
            make_row(m, user, kind, target, secret)
            for user in m.users
            for kind, target, secret in channels[user.pk]
        ] + [make_row(m, None, ChannelKind.EMAIL, address, "") for address in m.addresses]
    rows = [row for m in messages for row in m.notifications]
    Notification.objects.bulk_create(rows)
    ids = [row.pk for row in rows]
    for start in range(0, len(ids), DELIVERY_CHUNK):
        publish_on_commit(TASKS.DELIVER_NOTIFICATIONS, args=(ids[start : start + DELIVERY_CHUNK],))
    return rows


def invitation_enqueue(*, invitation, token: str) -> list[Notification]:
    """
    The e-mail carrying an invitation's one-use link, in its brand's language.

    crisis/ may not import the desk: `crisis.services.invitation_create` calls this
    through `settings.INVITATION_SENDER`, inside the transaction that made the invitation.
    """
    brand = invitation.brand
    with translation.override(brand.language):
        message = Message(
            incident=None,
            brand_id=brand.pk,
            users=[],
            addresses=(invitation.email,),
            reason="invitation",
            subject=messages.invitation_subject(invitation),
            body=messages.invitation_body(invitation, token),
            payload={},
        )
    return enqueue([message], now=invitation.created_at)


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
        error, retryable, public = str(exc)[:1000], exc.retryable, exc.public
    except Exception as exc:  # an adapter bug must not leave the row leased forever
        logger.exception("notification %s: adapter crashed", notification_id)
        error, retryable, public = f"{type(exc).__name__}"[:1000], True, NOT_DELIVERED
    else:
        error, retryable, public = "", False, ""

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
        if notification.incident is None:
            return outcome  # a brand's notice (an invitation): no incident's timeline to write
        timeline_record(
            incident=notification.incident,
            kind=EventKind.NOTIFIED,
            at=finished,
            data={
                "notification": notification.pk,  # the row the causing event's `recipients` names
                "channel": notification.channel,
                "reason": notification.reason,
                "recipient": _username(notification.recipient_id),
                "attempt": notification.attempts,
                "outcome": outcome,
                "error": public,
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
    """Refuse, before saving it, a webhook URL the transport would not connect to (`outbound.Refused`)."""
    outbound.check_url(url)


def send_webhook(notification: Notification) -> None:
    parts = urlsplit(notification.target)
    if parts.scheme not in outbound.SCHEMES or not parts.hostname:
        raise DeliveryError("webhook: not an http(s) URL with a host", retryable=False)
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
        # The address is checked again here, at connect time: it may have been public
        # when the channel was saved and point inside now (DNS rebinding).
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
        raise DeliveryError(f"webhook: refused, {exc.reason}") from exc
    except requests.RequestException as exc:
        # The class only: the message repeats the URL, whose path may be a secret token.
        raise DeliveryError(f"webhook: {type(exc).__name__}") from exc
    if 200 <= response.status_code < 300:
        return
    # Server trouble and throttling may pass; a redirect or a refusal will not. Only an
    # address that passed the guard can answer, so its status is the owner's to see.
    retryable = response.status_code >= 500 or response.status_code in (408, 429)
    raise DeliveryError(
        f"webhook answered {response.status_code}",
        retryable=retryable,
        public=f"answered {response.status_code}",
    )


# The Apprise schemes the desk accepts, each with its plugin's module and the hosts that
# plugin builds itself (None: the URL names the host, which the transport judges as it
# judges a webhook's). Every other scheme is refused: ntfy, gotify, mattermost, matrix
# and most others post to whatever host the URL names, and irc, mailto and a few more
# open raw TCP connections that no HTTP guard sees. Microsoft Teams' Apprise plugin is
# gone from Apprise 2 (its Workflows successor names any host): a signed webhook serves.
APPRISE_SERVICES = {
    "tgram": ("apprise.plugins.telegram", frozenset({"api.telegram.org"})),
    "discord": ("apprise.plugins.discord", frozenset({"discord.com"})),
    "slack": ("apprise.plugins.slack", frozenset({"hooks.slack.com", "hooks.slack-gov.com", "slack.com"})),
    "json": ("apprise.plugins.custom_json", None),
    "jsons": ("apprise.plugins.custom_json", None),
}
_PLUGIN_HOSTS = {module: hosts for module, hosts in APPRISE_SERVICES.values()}


def apprise_sender(url: str) -> apprise.Apprise:
    """An Apprise holding the one plugin `url` names; `outbound.Refused` for other schemes or several URLs."""
    # Apprise splits a string on spaces, commas and semicolons before a second scheme, so
    # "tgram://… json://10.0.0.1/" would be checked as one URL and sent as two.
    if url.count("://") != 1 or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise outbound.Refused(_("One URL per channel, without spaces."), reason="several URLs or spaces")
    scheme = url.partition("://")[0].lower()
    if scheme not in APPRISE_SERVICES:
        raise outbound.Refused(
            _(
                "Chat URLs may be Telegram (tgram://), Discord (discord://), Slack (slack://) "
                "or JSON over HTTPS (jsons://); use a signed webhook for anything else."
            ),
            reason=f"apprise scheme {scheme[:20]!r}",
        )
    sender = apprise.Apprise()
    if parse_urls(url) != [url] or not sender.add(url) or len(sender) != 1:
        raise outbound.Refused(_("Not a usable Apprise URL."), reason="apprise did not take it as one URL")
    if type(sender[0]).__module__ != APPRISE_SERVICES[scheme][0]:
        raise outbound.Refused(_("Not a usable Apprise URL."), reason=f"{scheme} served by another plugin")
    return sender


def check_apprise_target(url: str) -> None:
    """Refuse, before saving it, an Apprise URL the desk would not deliver to (`outbound.Refused`)."""
    plugin = apprise_sender(url)[0]
    if _PLUGIN_HOSTS[type(plugin).__module__] is None:
        host, port = str(plugin.host or ""), f":{plugin.port}" if plugin.port else ""
        outbound.check_url(f"{'https' if plugin.secure else 'http'}://{host}{port}/")


class _PluginRequests:
    """
    Stands in for `requests` inside an accepted Apprise plugin's module, so that the
    plugin's HTTP goes through the guarded transport, to the hosts it is known to use.
    """

    RequestException = requests.RequestException
    codes = requests.codes

    def __init__(self, hosts):
        self.hosts = hosts

    def request(self, method, url, **kwargs):
        host = urlsplit(url).hostname or ""
        if self.hosts is not None and host not in self.hosts:
            logger.warning("outbound refused: an Apprise plugin asked for %s", host[:100])
            raise outbound.Refused(NOT_DELIVERED, reason=f"apprise plugin host {host[:100]}")
        # A URL's options turn neither certificate checks off nor redirects on.
        kwargs.update(verify=True, allow_redirects=False)
        return outbound.session.request(method, url, **kwargs)

    def get(self, url, params=None, **kwargs):
        return self.request("GET", url, params=params, **kwargs)

    def post(self, url, data=None, json=None, **kwargs):
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url, data=None, **kwargs):
        return self.request("PUT", url, data=data, **kwargs)


def _through_outbound(plugin) -> None:
    """Point the plugin's module at the guarded transport (again, if Apprise reloaded it)."""
    namespace = type(plugin).send.__globals__
    if not isinstance(namespace.get("requests"), _PluginRequests):
        namespace["requests"] = _PluginRequests(_PLUGIN_HOSTS[type(plugin).__module__])


def send_apprise(notification: Notification) -> None:
    try:
        sender = apprise_sender(notification.target)
    except outbound.Refused as exc:
        raise DeliveryError(f"apprise: {exc.reason}", retryable=False) from exc
    _through_outbound(sender[0])
    # Apprise answers only yes or no; its plugin logs why, and the transport logs a refusal.
    if not sender.notify(title=notification.subject, body=notification.body):
        raise DeliveryError("apprise: not delivered (the worker's log says why)")


ADAPTERS = {
    ChannelKind.EMAIL: send_email,
    ChannelKind.WEBHOOK: send_webhook,
    ChannelKind.APPRISE: send_apprise,
}


def new_webhook_secret() -> str:
    return secrets.token_hex(32)


def channel_target_check(*, kind: str, target: str) -> None:
    """Refuse a target the desk would not deliver to; `InvalidInput` on `target`."""
    try:
        if kind == ChannelKind.WEBHOOK:
            check_webhook_target(target)
        elif kind == ChannelKind.APPRISE:
            check_apprise_target(target)
    except outbound.Refused as exc:
        logger.info("channel target refused: %s", exc.reason)
        raise InvalidInput(str(exc), field="target") from None


def contact_channel_add(*, user, kind: str, target: str) -> ContactChannel:
    """A new channel, once its target passes the outbound rules (each delivery checks them again)."""
    channel_target_check(kind=kind, target=target)
    secret = new_webhook_secret() if kind == ChannelKind.WEBHOOK else ""
    return ContactChannel.objects.create(user=user, kind=kind, target=target, secret=secret)


# --- Testing a channel -------------------------------------------------------------------

TEST_REASON = "channel_test"
# A person tests their channels; they must not make the desk hammer an address: this many
# test messages per person in this window at most.
TESTS_PER_WINDOW = 5
TEST_WINDOW = timedelta(minutes=10)


class TooManyTests(DomainError):
    status_code = 429
    code = "throttled"


def contact_channel_test(*, channel: ContactChannel, now) -> Notification:
    """
    A test message to one of a person's own channels, delivered like every notification:
    written to the outbox, then the same task, adapter, guarded transport and retries. The
    row's status is the answer to "did it arrive?" (the console's "My notifications").

    Every notification belongs to a brand: this one to the person's first (`InvalidInput`
    when they have none: the desk has nothing to send them yet).
    """
    user = channel.user
    membership = user.memberships.select_related("brand").order_by("brand_id").first()
    if membership is None:
        nothing = _("You belong to no brand yet: the desk has nothing to send you.")
        raise InvalidInput(nothing, field="channel")
    # The person's own test messages, across the brands they belong to.
    recent = Notification.all_brands.filter(
        recipient=user, reason=TEST_REASON, created_at__gt=now - TEST_WINDOW
    ).count()
    if recent >= TESTS_PER_WINDOW:
        raise TooManyTests(_("Too many test messages: try again in a few minutes."))
    brand = membership.brand
    notification = Notification.all_brands.create(
        brand=brand,
        incident=None,
        recipient=user,
        channel=channel.kind,
        target=channel.target,
        secret=channel.secret,
        reason=TEST_REASON,
        subject=messages.channel_test_subject(brand)[:300],
        body=messages.channel_test_body(user=user, brand=brand, now=now),
        payload=messages.channel_test_payload(user=user, brand=brand, now=now),
        idempotency_key=uuid.uuid4(),
        created_at=now,
        next_attempt_at=now + timedelta(seconds=settings.NOTIFICATION_REPUBLISH_SECONDS),
    )
    publish_on_commit(TASKS.DELIVER_NOTIFICATIONS, args=([notification.pk],))
    return notification
