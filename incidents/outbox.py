"""
Notifications: written to the outbox inside the transaction that caused them,
delivered by tasks after commit, retried with exponential backoff.

Channels are a plain dict of adapters (`channels.adapters()`, from
`settings.NOTIFICATION_CHANNELS`): e-mail through Django's mail backend, signed JSON
webhooks, chat services through Apprise URLs, and whatever a higher package plugs in
(the interface: `incidents/channels/__init__.py`). Webhooks and chat go out only
through the guarded transport (`outbound.py`), which checks every address again when
it connects; a target is also checked when its channel is saved (`contact_channel_add`).
"""

import logging
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from api.errors import DomainError, InvalidInput
from crisis.models import Membership

from . import channels, messages, outbound
from .models import ChannelKind, ContactChannel, EventKind, Incident, Notification
from .models import NotificationStatus as Status
from .publish import TASKS, publish_now, publish_on_commit
from .timeline import timeline_record

logger = logging.getLogger(__name__)
LEASE_SECONDS = 60


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
    notification = Notification.all_brands.get(pk=notification_id)
    outcome = _send_one(notification)
    error, public = outcome.error, outcome.public
    finished = timezone.now()
    if outcome.status == channels.SENT:
        outcome, fields = "sent", {"status": Status.SENT, "sent_at": finished, "next_attempt_at": None}
    elif outcome.status == channels.RETRY and notification.attempts < settings.NOTIFICATION_MAX_ATTEMPTS:
        wait = max(backoff_seconds(notification.attempts), outcome.after or 0)
        outcome, fields = "retry", {"next_attempt_at": finished + timedelta(seconds=wait)}
    else:
        outcome, fields = "failed", {"status": Status.FAILED, "next_attempt_at": None}
    with transaction.atomic():
        Notification.all_brands.filter(pk=notification_id).update(
            leased_until=None, last_error=error, **fields
        )
        if notification.incident_id is None:
            return outcome  # a brand's notice (an invitation): no incident's timeline to write
        timeline_record(
            incident=Incident(pk=notification.incident_id),
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


def _send_one(notification: Notification) -> channels.Outcome:
    """The adapter's outcome for one notification (a retry when it crashed or has none)."""
    adapter = channels.adapters().get(notification.channel)
    if adapter is None:
        return channels.Outcome.retry(f"no adapter for the channel {notification.channel!r}")
    try:
        for sent, outcome in adapter.send_batch(iter([notification])):
            if sent is notification:
                return outcome
    except Exception as exc:  # an adapter bug must not leave the row leased forever
        logger.exception("notification %s: adapter crashed", notification.pk)
        return channels.Outcome.retry(type(exc).__name__)
    return channels.Outcome.retry("not tried")


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


def new_webhook_secret() -> str:
    return secrets.token_hex(32)


def channel_target_check(*, kind: str, target: str) -> None:
    """Refuse a target the desk would not deliver to; `InvalidInput` on `target`."""
    adapter = channels.adapters().get(kind)
    if adapter is None:
        raise InvalidInput(_("This desk does not deliver over this channel."), field="kind")
    try:
        adapter.check_target(target)
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
