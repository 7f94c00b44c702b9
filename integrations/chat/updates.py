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

from django.utils import translation
from django.utils.translation import gettext as _

from api.errors import DomainError, Forbidden, NotFound
from crisis.models import Profile
from crisis.tenancy import Principal
from incidents import services
from incidents.errors import AlreadyClaimed
from incidents.models import Incident

from . import cards, client, linking
from .models import TelegramAccount

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
    if not isinstance(text, str) or not isinstance(chat, dict) or not isinstance(sender, dict):
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
        action, incident_id = parsed
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
