"""Telegram: linked people and group chats, one-time link codes, each incident's message per chat."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from crisis.models import Brand
from crisis.tenancy import TenantManager


class TelegramAccount(models.Model):
    """
    A Telegram user linked to a desk account: who presses a button. Their private chat
    with the bot is the person's notification channel (an `incidents.ContactChannel` of
    kind telegram whose target is that chat's id, written beside this row).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram")
    telegram_user_id = models.BigIntegerField(unique=True)
    telegram_username = models.CharField(max_length=64, blank=True)
    linked_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user} ↔ tg:{self.telegram_user_id}"


class TelegramChat(models.Model):
    """A brand's group chat: its new incidents, escalations and state changes are posted there."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="telegram_chats")
    chat_id = models.BigIntegerField()
    title = models.CharField(max_length=255, blank=True)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    linked_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()
    all_brands = models.Manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "chat_id"], name="telegram_chat_once_per_brand")
        ]

    def __str__(self) -> str:
        return f"{self.title or self.chat_id} ({self.brand_id})"


class LinkPurpose(models.TextChoices):
    PERSON = "person"
    GROUP = "group"


class TelegramLinkCode(models.Model):
    """A one-time deep-link code (`/start <code>`), stored hashed; used once, valid for minutes."""

    digest = models.CharField(max_length=64, unique=True)  # sha256 of the code, hex
    purpose = models.CharField(max_length=8, choices=LinkPurpose.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    brand = models.ForeignKey(Brand, null=True, on_delete=models.CASCADE, related_name="+")  # group codes
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True)

    # A group's code belongs to its brand; a person's to no brand, and is read through `all_brands`.
    objects = TenantManager()
    all_brands = models.Manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(purpose="person", brand__isnull=True) | Q(purpose="group", brand__isnull=False),
                name="telegram_code_group_has_brand",
            )
        ]

    def __str__(self) -> str:
        return f"{self.purpose} code of {self.user_id}"


class TelegramMessage(models.Model):
    """
    The one message an incident has in a group chat: later changes edit it.

    `message_id` is empty until the first send is confirmed; `sending_until` is the
    lease of the delivery that is sending it, so that two workers with news of the same
    incident do not both post a first message (the second waits and then edits).
    `shown_notification` keeps a retried older card from winding the message back.
    """

    chat_id = models.BigIntegerField()
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="+")
    message_id = models.BigIntegerField(null=True)
    sending_until = models.DateTimeField(null=True)
    sending_notification = models.BigIntegerField(null=True)  # the outbox row holding that lease
    shown_notification = models.BigIntegerField(null=True)  # the newest outbox row the message shows

    objects = TenantManager("incident__brand")
    all_brands = models.Manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chat_id", "incident"], name="telegram_message_once_per_chat")
        ]

    def __str__(self) -> str:
        return f"#{self.incident_id} in {self.chat_id}: {self.message_id}"


class TelegramRejectPrompt(models.Model):
    """
    A Reject pressed on a statement's Telegram message, waiting for its reason.

    A rejection needs a comment the author can act on, and a button carries none: the
    bot asks for it with a message the person answers (Telegram's force-reply), and the
    answer makes the rejection, of the version that was pressed. One question per press;
    it lapses after `TELEGRAM_REJECT_PROMPT_SECONDS`.
    """

    chat_id = models.BigIntegerField()
    message_id = models.BigIntegerField()  # the bot's question, which the reason answers
    pressed_message_id = models.BigIntegerField(null=True)  # the statement's message, edited once decided
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    statement = models.ForeignKey("incidents.Statement", on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager("statement__incident__brand")
    all_brands = models.Manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chat_id", "message_id"], name="telegram_reject_prompt_once")
        ]

    def __str__(self) -> str:
        return f"reject {self.statement_id} v{self.version} asked in {self.chat_id}"
