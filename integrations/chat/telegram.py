"""
Telegram as a channel of the notification outbox (`incidents/channels/__init__.py`).

Two kinds of rows, both ordinary outbox rows (same retries, idempotency, limits):

- **a person's**: an escalation, warning, reminder or role written by the desk for a
  person whose channel is their private chat with the bot (`ContactChannel` of kind
  telegram; target: the chat id). Rendered here, in `batches` (the task's thread, where
  the database may be read), in the person's language, with the buttons.
- **a group card**: written by `timeline_listener` for each linked group chat of the
  brand when its incident moves, the card already rendered as of that event (in the
  brand's language). The incident has one message per chat (`TelegramMessage`): the
  first card is sent, every later one edits it. A card older than the one shown is
  not sent again (a retried row never winds the message back).

Limits (`TELEGRAM_RATE_PER_BOT`, `…_PER_GROUP`, `…_PER_PRIVATE_CHAT`) are spent by the
outbox across all workers; a 429's `retry_after` pauses the row's keys for that long
and retries it; a 5xx or no answer is retried with backoff. Telegram has no
idempotency key: a send is repeated only when its outcome was never recorded (a worker
killed between the two), as for every channel.

Who may send a first message for (chat, incident) is decided in `batches` by a
compare-and-set on `TelegramMessage.sending_until`: the other workers' cards for it
wait (handed back untried) until its id is stored, then edit it.
"""

import collections
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crisis.models import Profile
from incidents import delivery, outbound
from incidents.channels import Channel, Limit, Outcome
from incidents.models import ChannelKind, EventKind, Incident, Notification, StatementVersion
from incidents.publish import TASKS, publish_on_commit

from . import cards, client
from .models import TelegramChat, TelegramMessage

logger = logging.getLogger(__name__)

CARD = "telegram_card"  # the payload key of a group card's row

# The events a group card follows; the rest (comments, steps, deliveries) stay in the console.
FOLLOWED = frozenset(
    {
        EventKind.CREATED,
        EventKind.CLAIMED,
        EventKind.INVESTIGATING,
        EventKind.RESOLVED,
        EventKind.REVIEWED,
        EventKind.REOPENED,
        EventKind.REASSIGNED,
        EventKind.ESCALATED,
        EventKind.SLA_WARNING,
        EventKind.SEVERITY_CHANGED,
        EventKind.MERGED,
        EventKind.SOURCE_ACKNOWLEDGED,
        EventKind.SOURCE_RESOLVED,
    }
)


def is_group(chat_id: int | str) -> bool:
    """Telegram's groups and channels have negative ids, private chats positive ones."""
    return str(chat_id).startswith("-")


# --- Writing group cards -----------------------------------------------------------------------


def timeline_listener(events) -> None:
    """`settings.TIMELINE_LISTENERS`: a card row per linked group chat for each followed event."""
    followed = [event for event in events if event.kind in FOLLOWED]
    if not followed or not client.configured():
        return
    brand_ids = {event.incident.brand_id for event in followed}
    chats = collections.defaultdict(list)
    for brand_id, chat_id in TelegramChat.all_brands.filter(brand_id__in=brand_ids).values_list(
        "brand_id", "chat_id"
    ):
        chats[brand_id].append(chat_id)
    if not chats:
        return
    # Read again, with what a card names: the caller's objects may lack the brand or assignee.
    wanted = {event.incident_id for event in followed if event.incident.brand_id in chats}
    incidents = Incident.all_brands.select_related("brand", "assignee").in_bulk(wanted)
    now = timezone.now()
    rows = []
    for event in followed:
        incident = incidents.get(event.incident_id)
        if incident is None:
            continue
        text, keyboard = cards.group(incident, kind=event.kind, actor=event.actor_label)
        for chat_id in chats[incident.brand_id]:
            rows.append(
                Notification(
                    brand_id=incident.brand_id,
                    incident=incident,
                    recipient=None,
                    channel=ChannelKind.TELEGRAM,
                    target=str(chat_id),
                    reason=event.kind,
                    subject=incident.title[:300],
                    body=text,
                    payload={CARD: True, "buttons": keyboard},
                    idempotency_key=uuid.uuid4(),
                    created_at=now,
                    next_attempt_at=now + timedelta(seconds=settings.NOTIFICATION_REPUBLISH_SECONDS),
                )
            )
    if rows:
        Notification.all_brands.bulk_create(rows)
        ids = [row.pk for row in rows]
        for start in range(0, len(ids), delivery.CHUNK):
            publish_on_commit(TASKS.DELIVER_NOTIFICATIONS, args=(ids[start : start + delivery.CHUNK],))


# --- The adapter ---------------------------------------------------------------------------------


class _Plan:
    """What `send_batch` does with one row, decided in `batches` (no database after that)."""

    __slots__ = ("buttons", "message_id", "shown", "text", "wait")

    def __init__(self, text: str, buttons, *, message_id=None, shown=0, wait=False):
        self.text, self.buttons = text, buttons
        self.message_id, self.shown, self.wait = message_id, shown, wait


class TelegramChannel(Channel):
    def __init__(self):
        self.concurrency = max(1, settings.NOTIFICATION_TELEGRAM_CONCURRENCY)
        self.bot = (settings.TELEGRAM_BOT_TOKEN or "none").partition(":")[0]  # the bot's id, not its secret

    def check_target(self, target: str) -> None:
        # Chats are linked by the bot's one-time codes, never typed in.
        raise outbound.Refused(
            _("Link Telegram with the button on “My notifications”."), reason="telegram is linked, not typed"
        )

    def limits(self, notification):
        chat_rate = (
            settings.TELEGRAM_RATE_PER_GROUP
            if is_group(notification.target)
            else (settings.TELEGRAM_RATE_PER_PRIVATE_CHAT)
        )
        return [
            Limit(f"telegram:bot:{self.bot}", settings.TELEGRAM_RATE_PER_BOT or None),
            Limit(f"telegram:chat:{notification.target}", chat_rate or None),
        ]

    # -- on the task's thread ----------------------------------------------------------------

    def batches(self, notifications):
        cards_, people = [], []
        for row in notifications:
            (cards_ if (row.payload or {}).get(CARD) else people).append(row)
        self._plan_people(people)
        self._plan_cards(cards_)
        by_chat: dict[str, list] = collections.defaultdict(list)
        for row in notifications:
            by_chat[row.target].append(row)
        # Rows that must wait for another worker's first message form their own lists, so
        # that handing them back does not hold up the rest of their chat.
        lists = []
        for rows in by_chat.values():
            ready = [row for row in rows if not row.telegram.wait]
            waiting = [row for row in rows if row.telegram.wait]
            lists += [part for part in (ready, waiting) if part]
        return lists

    def _plan_people(self, rows) -> None:
        if not rows:
            return
        incidents = Incident.all_brands.select_related("brand", "assignee").in_bulk(
            {row.incident_id for row in rows if row.incident_id}
        )
        languages = dict(
            Profile.objects.filter(
                user_id__in={row.recipient_id for row in rows}, language__gt=""
            ).values_list("user_id", "language")
        )
        versions = _statement_versions(rows)
        for row in rows:
            incident = incidents.get(row.incident_id)
            payload = row.payload or {}
            version = versions.get((payload.get("statement"), payload.get("version")))
            if incident is None:  # not about an incident (a test message): what the outbox wrote
                row.telegram = _Plan(f"{row.subject}\n\n{row.body}"[: client.MESSAGE_MAX], None)
                continue
            language = languages.get(row.recipient_id) or incident.brand.language
            if version is not None:
                # About a public statement: the version the row was written for, and for
                # the people of its hop the buttons that decide it.
                reason = payload.get("reason") or row.reason
                text, keyboard = cards.statement(
                    incident,
                    rejected_by=str(payload.get("rejected_by") or ""),
                    comment=str(payload.get("comment") or ""),
                    statement_id=version.statement_id,
                    version=version.number,
                    body=version.body,
                    channels=version.channels,
                    reason=reason,
                    hop=str(payload.get("hop_name") or payload.get("hop") or ""),
                    language=language,
                    decide=reason == "statement_hop",
                )
            else:
                text, keyboard = cards.personal(incident, reason=row.reason, language=language)
            row.telegram = _Plan(text, keyboard)

    def _plan_cards(self, rows) -> None:
        if not rows:
            return
        now = timezone.now()
        pairs = {(int(row.target), row.incident_id) for row in rows}
        TelegramMessage.all_brands.bulk_create(
            [TelegramMessage(chat_id=chat, incident_id=incident) for chat, incident in pairs],
            ignore_conflicts=True,
        )
        known = {
            (m.chat_id, m.incident_id): m
            for m in TelegramMessage.all_brands.filter(
                chat_id__in={chat for chat, _i in pairs}, incident_id__in={i for _c, i in pairs}
            )
        }
        first_rows = {}
        for row in sorted(rows, key=lambda r: r.pk):
            first_rows.setdefault((int(row.target), row.incident_id), row)
        may_send = set()
        for pair, first in first_rows.items():
            message = known[pair]
            if message.message_id is not None:
                continue
            # The first message: this batch sends it unless another worker is (its lease holds).
            took = (
                TelegramMessage.all_brands.filter(pk=message.pk, message_id__isnull=True)
                .filter(
                    Q(sending_until__isnull=True)
                    | Q(sending_until__lt=now)
                    | Q(sending_notification=first.pk)
                )
                .update(
                    sending_until=now + timedelta(seconds=delivery.LEASE_SECONDS),
                    sending_notification=first.pk,
                )
            )
            if took:
                may_send.add(pair)
        for row in rows:
            pair = (int(row.target), row.incident_id)
            message = known[pair]
            keyboard = (row.payload or {}).get("buttons")
            waits = message.message_id is None and pair not in may_send
            row.telegram = _Plan(
                row.body,
                keyboard,
                message_id=message.message_id,
                shown=message.shown_notification or 0,
                wait=waits,
            )

    def receipts(self, pairs) -> None:
        for row, receipt in pairs:
            if "message_id" not in receipt:
                continue
            updated = TelegramMessage.all_brands.filter(chat_id=int(row.target), incident_id=row.incident_id)
            updated.filter(Q(message_id__isnull=True) | Q(message_id=receipt["message_id"])).update(
                message_id=receipt["message_id"], sending_until=None, sending_notification=None
            )
            updated.filter(Q(shown_notification__isnull=True) | Q(shown_notification__lt=row.pk)).update(
                shown_notification=row.pk
            )

    # -- on a delivery thread: no database from here on ------------------------------------

    def send_batch(self, notifications):
        memo: dict[tuple[str, int], list] = {}  # (chat, incident) → [message id, newest card shown]
        for row in notifications:
            plan = getattr(row, "telegram", None)
            if plan is None:
                yield row, Outcome.retry("telegram: not planned")
                continue
            if plan.wait:
                return  # another worker is posting this incident's first message: back untried
            try:
                if not (row.payload or {}).get(CARD):
                    client.send_message(row.target, plan.text, buttons=plan.buttons)
                    outcome = Outcome.sent()
                else:
                    state = memo.setdefault((row.target, row.incident_id), [plan.message_id, plan.shown])
                    outcome = self._send_card(row, plan, state)
            except client.BotApiError as exc:
                yield row, _failure(exc, self.limits(row)[1].key)
                if exc.status == 0:
                    return  # no answer from the Bot API: the rest waits, untried
                continue
            yield row, outcome

    def _send_card(self, row, plan, state: list) -> Outcome:
        """Edit the incident's message, or post it when it has none; raises `BotApiError`."""
        message_id, shown = state
        if shown and row.pk < shown:
            return Outcome.sent()  # a newer card is already on the message
        if message_id is not None:
            try:
                client.edit_message(row.target, message_id, plan.text, buttons=plan.buttons)
            except client.BotApiError as exc:
                if exc.status != 400 or "not found" not in exc.description:
                    raise
                message_id = None  # deleted in the chat: post the card anew
        if message_id is None:
            answer = client.send_message(row.target, plan.text, buttons=plan.buttons)
            try:
                message_id = int(answer["message_id"])
            except (KeyError, TypeError, ValueError):
                return Outcome.retry("telegram: sendMessage answered no message_id")
        state[0], state[1] = message_id, row.pk
        return Outcome.sent({"message_id": message_id})

    def close(self) -> None:
        pass  # the guarded transport's pool is shared; it closes its own idle connections


def _statement_versions(rows) -> dict[tuple[int, int], StatementVersion]:
    """The statement versions that rows about public statements were written for, by (statement, number)."""
    wanted = {
        (row.payload["statement"], row.payload.get("version"))
        for row in rows
        if isinstance((row.payload or {}).get("statement"), int)
    }
    if not wanted:
        return {}
    found = StatementVersion.all_brands.filter(
        statement_id__in={statement for statement, _n in wanted},
        number__in={number for _s, number in wanted if isinstance(number, int)},
    )
    return {(v.statement_id, v.number): v for v in found if (v.statement_id, v.number) in wanted}


def _failure(exc: client.BotApiError, chat_key: str) -> Outcome:
    public = f"Telegram answered {exc.status}" if exc.status else "not delivered"
    if exc.status == 429:
        # The chat waits for retry_after, from every worker; other chats go on.
        after = exc.retry_after or settings.NOTIFICATION_BACKOFF_SECONDS
        return Outcome.retry(str(exc), public=public, after=after, pause=[chat_key])
    if exc.passing:
        return Outcome.retry(str(exc), public=public)
    # 400 (chat not found, bad request), 403 (the bot was blocked or removed): will not pass.
    return Outcome.failed(str(exc), public=public)
