"""
Linking by one-time deep-link code (API.md, "Chat").

A person asks for a code (`/api/v1/me/channels/telegram/link/` or the console) and opens
`https://t.me/<bot>?start=<code>`: Telegram sends `/start <code>` from their private chat,
and that Telegram user becomes theirs, their private chat one of their notification
channels. A brand's manager asks for a group code and sends `/start@<bot> <code>` in the
group: the group becomes the brand's. A code is stored hashed, used once, and expires
after `TELEGRAM_LINK_CODE_SECONDS`; using it is one compare-and-set, so two messages
carrying the same code link once.
"""

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from api.errors import DomainError, NotFound
from crisis.models import Brand
from incidents import outbox
from incidents.models import ChannelKind, ContactChannel, Notification
from incidents.publish import TASKS, publish_on_commit

from . import client
from .models import LinkPurpose, TelegramAccount, TelegramChat, TelegramLinkCode

logger = logging.getLogger(__name__)


class NotConfigured(DomainError):
    status_code = 404
    code = "not_configured"


class TelegramUnavailable(DomainError):
    """The bot's name could not be asked of Telegram: nothing was made, try again."""

    status_code = 503
    code = "unavailable"


def require_configured() -> None:
    if not client.configured():
        raise NotConfigured(_("Telegram is not set up on this desk."))


@dataclass(frozen=True)
class LinkCode:
    code: str
    url: str
    expires_at: datetime
    bot: str = ""


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def link_code_create(*, user, brand: Brand | None = None, now: datetime | None = None) -> LinkCode:
    """A new code for `user` (a person's link), or for `brand`'s group chat made by `user`."""
    require_configured()
    try:
        bot = client.bot_username()
    except client.BotApiError as exc:
        logger.warning("telegram: getMe failed: %s", exc)
        raise TelegramUnavailable(_("Telegram does not answer just now: try again in a minute.")) from None
    now = now or timezone.now()
    # 22 URL-safe characters: within the 64 of a deep link's start parameter, [A-Za-z0-9_-].
    code = secrets.token_urlsafe(16)
    expires_at = now + timedelta(seconds=settings.TELEGRAM_LINK_CODE_SECONDS)
    TelegramLinkCode.all_brands.create(
        digest=_digest(code),
        purpose=LinkPurpose.GROUP if brand is not None else LinkPurpose.PERSON,
        user=user,
        brand=brand,
        created_at=now,
        expires_at=expires_at,
    )
    url = f"https://t.me/{bot}?startgroup={code}" if brand is not None else f"https://t.me/{bot}?start={code}"
    return LinkCode(code=code, url=url, expires_at=expires_at, bot=bot)


class CodeRefused(Exception):
    """A code that links nothing: unknown, used, expired, or of the wrong kind for this chat."""


def link_code_use(*, code: str, telegram_user: dict, chat: dict, now: datetime | None = None):
    """
    Use `code` sent as `/start <code>` by `telegram_user` in `chat` (Bot API objects).

    Returns the `TelegramAccount` or `TelegramChat` it made; `CodeRefused` otherwise,
    with nothing changed. A person's code must come from a private chat, a group's
    from a group.
    """
    now = now or timezone.now()
    private = chat.get("type") == "private"
    with transaction.atomic():
        row = (
            TelegramLinkCode.all_brands.filter(digest=_digest(code[:100]))
            .select_related("user", "brand")
            .first()
        )
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise CodeRefused
        if (row.purpose == LinkPurpose.PERSON) != private:
            raise CodeRefused
        # One use: the compare-and-set decides between two messages carrying the same code.
        if not TelegramLinkCode.all_brands.filter(pk=row.pk, used_at__isnull=True).update(used_at=now):
            raise CodeRefused
        if row.purpose == LinkPurpose.PERSON:
            return _link_person(row.user, telegram_user, chat, now)
        return _link_group(row, chat, now)


def _link_person(user, telegram_user: dict, chat: dict, now) -> TelegramAccount:
    telegram_user_id = int(telegram_user["id"])
    # The Telegram user belongs to one desk account: linking it again moves it.
    TelegramAccount.objects.filter(telegram_user_id=telegram_user_id).exclude(user=user).delete()
    account, _created = TelegramAccount.objects.update_or_create(
        user=user,
        defaults={
            "telegram_user_id": telegram_user_id,
            "telegram_username": str(telegram_user.get("username") or "")[:64],
            "linked_at": now,
        },
    )
    ContactChannel.objects.filter(kind=ChannelKind.TELEGRAM, target=str(chat["id"])).exclude(
        user=user
    ).delete()
    ContactChannel.objects.filter(user=user, kind=ChannelKind.TELEGRAM).exclude(
        target=str(chat["id"])
    ).delete()
    ContactChannel.objects.update_or_create(
        user=user, kind=ChannelKind.TELEGRAM, target=str(chat["id"]), defaults={"is_active": True}
    )
    return account


def _link_group(row: TelegramLinkCode, chat: dict, now) -> TelegramChat:
    linked, _created = TelegramChat.all_brands.update_or_create(
        brand=row.brand,
        chat_id=int(chat["id"]),
        defaults={"title": str(chat.get("title") or "")[:255], "linked_by": row.user, "linked_at": now},
    )
    return linked


def person_unlink(*, user) -> None:
    """Forget the person's Telegram account and its channel."""
    with transaction.atomic():
        TelegramAccount.objects.filter(user=user).delete()
        ContactChannel.objects.filter(user=user, kind=ChannelKind.TELEGRAM).delete()


def brand_chats(brand: Brand):
    return TelegramChat.objects.for_brands([brand.pk]).order_by("linked_at", "pk")


def brand_chat_unlink(*, brand: Brand, chat_pk: int) -> None:
    deleted, _ = brand_chats(brand).filter(pk=chat_pk).delete()
    if not deleted:
        raise NotFound()


# --- Does the link work? A test message ------------------------------------------------------

TEST_REASON = "channel_test"  # as a person's channel test (incidents.outbox.TEST_REASON)
TESTS_PER_WINDOW = 5
TEST_WINDOW = timedelta(minutes=10)


def brand_chat_test(*, brand: Brand, chat: TelegramChat, user, now: datetime | None = None) -> Notification:
    """A test message to a brand's group chat through the outbox; its row's status says whether it arrived."""
    now = now or timezone.now()
    recent = Notification.all_brands.filter(
        brand=brand, channel=ChannelKind.TELEGRAM, target=str(chat.chat_id), reason=TEST_REASON
    ).filter(created_at__gt=now - TEST_WINDOW)
    if recent.count() >= TESTS_PER_WINDOW:
        raise outbox.TooManyTests(_("Too many test messages: try again in a few minutes."))
    with translation.override(brand.language):
        subject = _("Test message from the crisis desk")
        body = _("%(user)s checks that %(brand)s's incidents reach this chat. Nothing to do.") % {
            "user": user.get_username(),
            "brand": brand.name,
        }
    notification = Notification.all_brands.create(
        brand=brand,
        incident=None,
        recipient=None,
        channel=ChannelKind.TELEGRAM,
        target=str(chat.chat_id),
        reason=TEST_REASON,
        subject=subject,
        body=body,
        payload={},
        idempotency_key=uuid.uuid4(),
        created_at=now,
        next_attempt_at=now + timedelta(seconds=settings.NOTIFICATION_REPUBLISH_SECONDS),
    )
    publish_on_commit(TASKS.DELIVER_NOTIFICATIONS, args=([notification.pk],))
    return notification


def last_tests(chats) -> dict[int, Notification]:
    """The latest test message of each chat, by the chat row's id."""
    found = {}
    for chat in chats:
        row = (
            Notification.all_brands.filter(
                brand_id=chat.brand_id,
                channel=ChannelKind.TELEGRAM,
                target=str(chat.chat_id),
                reason=TEST_REASON,
            )
            .order_by("-pk")
            .first()
        )
        if row is not None:
            found[chat.pk] = row
    return found
