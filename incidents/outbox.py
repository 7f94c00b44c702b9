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
from django.db import transaction
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from api.errors import DomainError, InvalidInput
from crisis.models import Membership

from . import channels, delivery, messages, outbound
from .models import ChannelKind, ContactChannel, Incident, Notification
from .models import NotificationStatus as Status
from .publish import TASKS, publish_now, publish_on_commit

logger = logging.getLogger(__name__)


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


# Notifications handed to one delivery task: a burst of escalations becomes a hundred
# tasks instead of tens of thousands, each still leased and retried per row.
DELIVERY_CHUNK = delivery.CHUNK


def recipients_of(notifications: list) -> dict:
    """What an event says of the notifications it caused (the timeline shows how each went)."""
    return {
        "notified": sorted({row.recipient.get_username() for row in notifications if row.recipient_id}),
        "recipients": [
            {
                "username": row.recipient.get_username() if row.recipient_id else None,
                "channel": row.channel,
                "notification": row.pk,
            }
            for row in notifications
        ],
    }


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
    """Try to send one notification; returns "sent", "retry", "failed", "deferred" or "skipped"."""
    return delivery.deliver_batch([notification_id], now=now)[notification_id]


def backoff_seconds(attempts: int) -> float:
    return delivery.backoff_seconds(attempts)


def republish_due(*, now, limit: int = 1000) -> int:
    """Publish again the pending notifications whose task was lost or whose retry is due."""
    later = now + timedelta(seconds=settings.NOTIFICATION_REPUBLISH_SECONDS)
    with transaction.atomic():
        # skip_locked: two sweepers split the due rows instead of both publishing them.
        ids = list(
            Notification.all_brands.select_for_update(skip_locked=True)
            .filter(status=Status.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        Notification.all_brands.filter(pk__in=ids).update(next_attempt_at=later)
    for start in range(0, len(ids), DELIVERY_CHUNK):
        publish_now(TASKS.DELIVER_NOTIFICATIONS, args=(ids[start : start + DELIVERY_CHUNK],))
    return len(ids)


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
