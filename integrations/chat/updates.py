"""
What the bot hears, by webhook or long polling: one function, `handle_update`.

- `/start <code>` (or `/start@<bot> <code>` in a group): links the person or the group
  (`linking.py`) and says so in the chat; a used, expired or unknown code is refused
  there, nothing changed.
- A press of Claim or Investigate: the presser's Telegram account names the desk user,
  whose roles decide, through the same service as the API (`incidents.services`), race
  rules included. The pressed message is edited to show who acted; a refusal is answered
  with an alert (`answerCallbackQuery`), nothing changed: a Telegram user linked to no
  one, a viewer, a member of another brand (the incident is "not found" to them, as in
  the API), a claim someone else won ("already claimed by …").

Everything else is ignored. No update can raise out of here: a bad one is logged.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from api.errors import DomainError, Forbidden, InvalidInput, NotFound
from crisis.models import Profile
from crisis.tenancy import Principal
from incidents import services, statements
from incidents.errors import AlreadyClaimed
from incidents.models import Incident

from . import cards, client, linking
from .models import TelegramAccount, TelegramRejectPrompt

logger = logging.getLogger(__name__)

SERVICES = {cards.CLAIM: services.incident_claim, cards.INVESTIGATE: services.incident_investigate}


def handle_update(update: dict) -> None:
    if not isinstance(update, dict):
        return
    try:
        if isinstance(update.get("callback_query"), dict):
            _press(update["callback_query"])
        elif isinstance(update.get("message"), dict):
            _message(update["message"])
    except client.BotApiError as exc:
        logger.warning("telegram: answering update %s failed: %s", update.get("update_id"), exc)


# --- /start <code> -------------------------------------------------------------------------------


def _message(message: dict) -> None:
    text = message.get("text")
    chat, sender = message.get("chat"), message.get("from")
    if not isinstance(chat, dict) or not isinstance(sender, dict):
        return
    if isinstance(message.get("reply_to_message"), dict) and _reply(message, chat, sender):
        return
    if not isinstance(text, str):
        return
    command, _sep, argument = text.strip().partition(" ")
    if command.split("@", 1)[0] != "/start" or not isinstance(chat.get("id"), int):
        return
    if not isinstance(sender.get("id"), int):
        return
    code = argument.strip()
    if not code:
        client.send_message(
            chat["id"], _("Open the link from the desk's “My notifications” page to link this chat.")
        )
        return
    try:
        linked = linking.link_code_use(code=code, telegram_user=sender, chat=chat)
    except linking.CodeRefused:
        client.send_message(
            chat["id"], _("This link code is used, expired or unknown. Ask the desk for a new one.")
        )
        return
    if isinstance(linked, TelegramAccount):
        with translation.override(_language_of(linked.user)):
            client.send_message(
                chat["id"],
                _("Linked: the desk will message %(user)s here.") % {"user": linked.user.get_username()},
            )
    else:
        with translation.override(linked.brand.language):
            client.send_message(
                chat["id"],
                _("Linked: %(brand)s's incidents will be posted here.") % {"brand": linked.brand.name},
            )


def _language_of(user) -> str:
    chosen = Profile.objects.filter(user=user).values_list("language", flat=True).first()
    if chosen:
        return chosen
    membership = user.memberships.select_related("brand").order_by("brand_id").first()
    return membership.brand.language if membership else "en"


# --- Button presses --------------------------------------------------------------------------


def _press(query: dict) -> None:
    query_id = query.get("id")
    sender = query.get("from") if isinstance(query.get("from"), dict) else {}
    if not isinstance(query_id, str):
        return
    parsed = cards.parse_callback(query.get("data"))
    account = (
        TelegramAccount.objects.select_related("user").filter(telegram_user_id=sender.get("id")).first()
        if isinstance(sender.get("id"), int)
        else None
    )
    language = _language_of(account.user) if account else str(sender.get("language_code") or "en")[:2]
    with translation.override(language if language in ("en", "ru") else "en"):
        if parsed is None:
            client.answer_callback(query_id, _("This button is not one of the desk's."), alert=True)
            return
        if account is None or not account.user.is_active:
            refusal = _("Your Telegram is not linked to the desk: link it on “My notifications” first.")
            client.answer_callback(query_id, refusal, alert=True)
            return
        if parsed.action in cards.STATEMENT_ACTIONS:
            _decide(query, parsed, account, language=language)
            return
        action, incident_id = parsed.action, parsed.incident_id
        principal = Principal.for_user(account.user)
        try:
            incident = SERVICES[action](incident_id=incident_id, principal=principal)
        except AlreadyClaimed:
            winner = (
                Incident.all_brands.filter(pk=incident_id)
                .values_list("assignee__username", flat=True)
                .first()
                or "?"
            )
            client.answer_callback(query_id, _("Already claimed by %(user)s.") % {"user": winner}, alert=True)
            return
        except NotFound:
            client.answer_callback(query_id, _("You cannot act on this incident."), alert=True)
            return
        except Forbidden:
            client.answer_callback(query_id, _("Your role in this brand may not do this."), alert=True)
            return
        except DomainError as exc:
            client.answer_callback(query_id, str(exc.detail), alert=True)
            return
        done = _("Claimed.") if action == cards.CLAIM else _("Investigation started.")
        client.answer_callback(query_id, done)
        _edit_pressed(query, incident, action, account.user.get_username(), language=language)


def _edit_pressed(query: dict, incident: Incident, action: str, username: str, *, language: str) -> None:
    """
    The pressed message shows who acted: a person's message in their language, a group's
    card in the brand's (the outbox edits the card as well, to the same text).
    """
    message = query.get("message") if isinstance(query.get("message"), dict) else {}
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    if not isinstance(chat.get("id"), int) or not isinstance(message.get("message_id"), int):
        return
    incident = Incident.all_brands.select_related("brand", "assignee").get(pk=incident.pk)
    kind = "claimed" if action == cards.CLAIM else "investigating"
    group = str(chat["id"]).startswith("-")
    with translation.override(incident.brand.language if group else language):
        text = cards.card(incident, happened=cards.happened(kind, username))
        keyboard = cards.buttons(incident)
    client.edit_message(chat["id"], message["message_id"], text, buttons=keyboard)


# --- A public statement's Approve and Reject -------------------------------------------------


def _decide(query: dict, press: cards.Press, account: TelegramAccount, *, language: str) -> None:
    """Approve at once; Reject asks for the reason (the reply to the question decides)."""
    ids = {
        "incident_id": press.incident_id,
        "statement_id": press.statement_id,
        "principal": Principal.for_user(account.user),
        "version": press.version,
    }
    try:
        if press.action == cards.APPROVE:
            statement = statements.statement_decide(**ids, approve=True)
        else:
            statement = statements.statement_decider_check(**ids)
    except NotFound:
        client.answer_callback(query["id"], _("You cannot act on this statement."), alert=True)
        return
    except DomainError as exc:
        client.answer_callback(query["id"], str(exc.detail), alert=True)
        return
    message = query.get("message") if isinstance(query.get("message"), dict) else {}
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    pressed = message.get("message_id") if isinstance(message.get("message_id"), int) else None
    username = account.user.get_username()
    if press.action == cards.APPROVE:
        client.answer_callback(query["id"], _("Approved."))
        if isinstance(chat.get("id"), int) and pressed is not None:
            approved = _("Approved by %(user)s.") % {"user": username}
            _edit_statement(chat["id"], pressed, statement, language, happened=approved)
        return
    if not isinstance(chat.get("id"), int):
        return
    question = client.ask(
        chat["id"],
        _(
            "Why do you reject statement #%(id)d, version %(version)d? "
            "Reply to this message: the author reads your reason."
        )
        % {"id": statement.pk, "version": press.version},
        reply_to=pressed,
        placeholder=_("The reason for rejecting"),
    )
    if not isinstance((question or {}).get("message_id"), int):
        client.answer_callback(
            query["id"], _("Telegram did not take the question: press Reject again."), alert=True
        )
        return
    TelegramRejectPrompt.all_brands.create(
        chat_id=chat["id"],
        message_id=question["message_id"],
        pressed_message_id=pressed,
        user=account.user,
        statement=statement,
        version=press.version,
    )
    client.answer_callback(query["id"], _("Reply with the reason for rejecting."))


def _reply(message: dict, chat: dict, sender: dict) -> bool:
    """
    A reply to the bot's question after a Reject: the reason, and the rejection it makes.
    False when the message answers no question of this person's (it is then read as any other).
    """
    asked = message["reply_to_message"].get("message_id")
    if (
        not isinstance(chat.get("id"), int)
        or not isinstance(asked, int)
        or not isinstance(sender.get("id"), int)
    ):
        return False
    account = TelegramAccount.objects.select_related("user").filter(telegram_user_id=sender["id"]).first()
    if account is None:
        return False
    language = _language_of(account.user)
    with translation.override(language):
        decided, answer = _reject_with_reason(account, chat["id"], asked, message.get("text"))
        if answer is None:
            return False  # a reply to something else, or a reason already used
        client.send_message(chat["id"], answer)
        if decided is not None and decided[0].pressed_message_id is not None:
            prompt, statement = decided
            _edit_statement(
                chat["id"],
                prompt.pressed_message_id,
                statement,
                language,
                rejected_by=account.user.get_username(),
                comment=message["text"].strip(),
            )
    return True


def _reject_with_reason(account: TelegramAccount, chat_id: int, asked: int, reason) -> tuple:
    """
    ((prompt, statement) when rejected, else None; what to answer, or None when `asked`
    is no open question of this person's). The question is locked: a reply Telegram
    delivers twice rejects once.
    """
    with transaction.atomic():
        prompt = (
            TelegramRejectPrompt.all_brands.select_for_update(of=("self",))
            .select_related("statement")
            .filter(chat_id=chat_id, message_id=asked, user=account.user)
            .first()
        )
        if prompt is None:
            return None, None
        if prompt.created_at < timezone.now() - timedelta(seconds=settings.TELEGRAM_REJECT_PROMPT_SECONDS):
            prompt.delete()
            return None, _("That question has lapsed: press Reject again.")
        if not isinstance(reason, str) or not reason.strip():
            return None, _("Send the reason as text, in reply to the question.")
        try:
            statement = statements.statement_decide(
                incident_id=prompt.statement.incident_id,
                statement_id=prompt.statement_id,
                principal=Principal.for_user(account.user),
                approve=False,
                comment=reason,
                version=prompt.version,
            )
        except InvalidInput as exc:  # too long: the question stands, a shorter reason may follow
            return None, str(exc.detail)
        except NotFound:
            prompt.delete()
            return None, _("You cannot act on this statement.")
        except DomainError as exc:  # decided, edited or out of the hop since: the question is spent
            prompt.delete()
            return None, str(exc.detail)
        prompt.delete()
    return (prompt, statement), _("Rejected: the statement is a draft again, and its author is told why.")


def _edit_statement(chat_id: int, message_id: int, statement, language: str, **decided) -> None:
    """
    The pressed statement message shows what was decided, without its buttons: `decided` is
    `cards.statement`'s `happened`, or its `rejected_by` and `comment`.
    """
    text, keyboard = cards.statement(
        statement.incident,
        statement_id=statement.pk,
        version=statement.version,
        body=statement.body,
        channels=statement.channels,
        reason="",  # decided: what happened says it, no headline asks for a decision
        hop="",
        language=language,
        decide=False,
        **decided,
    )
    client.edit_message(chat_id, message_id, text, buttons=keyboard)
