"""
`{% telegram_of user as telegram %}` and `{% brand_telegram brand as telegram %}`: what the
console's pages show of Telegram links, for `chat/_me.html` and `chat/_brand.html`.
"""

from django import template

from incidents.models import ChannelKind, ContactChannel, Notification
from incidents.models import NotificationStatus as Status
from integrations.chat import client, linking
from integrations.chat.models import TelegramAccount

register = template.Library()


def _state(row: Notification | None) -> str:
    if row is None:
        return ""
    if row.status == Status.SENT:
        return "sent"
    if row.status == Status.FAILED:
        return "failed"
    return "retrying" if row.attempts else "pending"


@register.simple_tag
def telegram_of(user) -> dict:
    """Whether Telegram is offered, the person's linked account and its channel."""
    if not client.configured():
        return {"configured": False}
    account = TelegramAccount.objects.filter(user=user).first()
    channel = ContactChannel.objects.filter(user=user, kind=ChannelKind.TELEGRAM).first()
    last = (
        Notification.all_brands.filter(
            recipient=user, channel=ChannelKind.TELEGRAM, reason=linking.TEST_REASON
        )
        .order_by("-pk")
        .first()
    )
    return {
        "configured": True,
        "account": account,
        "channel": channel,
        "last_test": last,
        "state": _state(last),
    }


@register.simple_tag
def brand_telegram(brand) -> dict:
    """Whether Telegram is offered, and the brand's linked chats each with its latest test."""
    if not client.configured():
        return {"configured": False}
    chats = list(linking.brand_chats(brand).select_related("linked_by"))
    tests = linking.last_tests(chats)
    return {
        "configured": True,
        "chats": [
            {"chat": chat, "test": tests.get(chat.pk), "state": _state(tests.get(chat.pk))} for chat in chats
        ],
    }
