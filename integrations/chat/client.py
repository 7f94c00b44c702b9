"""
A thin synchronous client of the Telegram Bot API, over the guarded transport.

Why not python-telegram-bot: since v20 it is asyncio only, and the desk is synchronous
(Django views, Celery tasks, delivery threads); running an event loop per call to use
a dozen methods is more machinery than the methods themselves. The Bot API is plain
HTTPS with JSON (https://core.telegram.org/bots/api#making-requests): every method is
`POST {TELEGRAM_API_URL}/bot<token>/<method>` answering `{"ok": true, "result": …}` or
`{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`. So each
call here is one POST through `incidents.outbound.session` (every address checked and
pinned, keep-alive connections pooled per host), and `TELEGRAM_API_URL` is a setting so
tests talk to a local fake.

The token is part of every URL: no error message or log line of this module carries a
URL, only the method's name.
"""

import logging

import requests
from django.conf import settings

from incidents import outbound

logger = logging.getLogger(__name__)

# Telegram's own limits (https://core.telegram.org/bots/api#sendmessage, #inlinekeyboardbutton).
MESSAGE_MAX = 4096
CALLBACK_DATA_MAX_BYTES = 64
PLACEHOLDER_MAX = 64  # a force-reply's input_field_placeholder
ALERT_MAX = 200


class BotApiError(Exception):
    """A call that did not succeed: Telegram's answer, or no answer at all (`status` 0)."""

    def __init__(self, method: str, status: int, description: str, *, retry_after: float | None = None):
        super().__init__(f"{method}: {status} {description}"[:500])
        self.method = method
        self.status = status
        self.description = description
        self.retry_after = retry_after

    @property
    def passing(self) -> bool:
        """Worth trying again: throttled, Telegram's own trouble, or no answer."""
        return self.status in (0, 408, 429) or self.status >= 500

    @property
    def not_modified(self) -> bool:
        """An edit to the text the message already has: done, as far as we are concerned."""
        return self.status == 400 and "message is not modified" in self.description


def configured() -> bool:
    return bool(settings.TELEGRAM_BOT_TOKEN)


def call(method: str, params: dict | None = None, *, timeout: float | None = None):
    """One Bot API method; its `result`, or `BotApiError`."""
    token = settings.TELEGRAM_BOT_TOKEN
    if not token:
        raise BotApiError(method, 0, "no TELEGRAM_BOT_TOKEN")
    url = f"{settings.TELEGRAM_API_URL.rstrip('/')}/bot{token}/{method}"
    try:
        response = outbound.session.post(
            url,
            json=params or {},
            timeout=timeout or settings.TELEGRAM_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except outbound.Refused as exc:
        raise BotApiError(method, 0, f"refused: {exc.reason}") from None
    except requests.RequestException as exc:
        # The class only: the exception's message repeats the URL, and the URL holds the token.
        raise BotApiError(method, 0, type(exc).__name__) from None
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise BotApiError(method, response.status_code or 0, "not a Bot API answer")
    if answer.get("ok") is True and 200 <= response.status_code < 300:
        return answer.get("result")
    parameters = answer.get("parameters") if isinstance(answer.get("parameters"), dict) else {}
    retry_after = parameters.get("retry_after")
    status = answer.get("error_code") if isinstance(answer.get("error_code"), int) else response.status_code
    raise BotApiError(
        method,
        status,
        str(answer.get("description") or "")[:300],
        retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
    )


_me: dict = {}  # (API URL, token) → the bot's username


def bot_username() -> str:
    """The bot's @username (for t.me links): `TELEGRAM_BOT_USERNAME`, else asked once with getMe."""
    if settings.TELEGRAM_BOT_USERNAME:
        return settings.TELEGRAM_BOT_USERNAME
    bot = (settings.TELEGRAM_API_URL, settings.TELEGRAM_BOT_TOKEN)
    if bot not in _me:
        result = call("getMe")
        _me[bot] = str((result or {}).get("username") or "")
    return _me[bot]


def send_message(chat_id: int | str, text: str, *, buttons=None) -> dict:
    params = {"chat_id": chat_id, "text": text[:MESSAGE_MAX], "disable_web_page_preview": True}
    if buttons:
        params["reply_markup"] = {"inline_keyboard": buttons}
    return call("sendMessage", params)


def ask(chat_id: int | str, text: str, *, reply_to: int | None, placeholder: str = "") -> dict:
    """A question the person answers by replying: Telegram opens the reply to it for them."""
    params = {
        "chat_id": chat_id,
        "text": text[:MESSAGE_MAX],
        "reply_markup": {"force_reply": True, "input_field_placeholder": placeholder[:PLACEHOLDER_MAX]},
    }
    if reply_to is not None:
        params["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
    return call("sendMessage", params)


def edit_message(chat_id: int | str, message_id: int, text: str, *, buttons=None):
    params = {
        "chat_id": chat_id,
        "message_id": message_id,
        "text": text[:MESSAGE_MAX],
        "disable_web_page_preview": True,
    }
    if buttons:
        params["reply_markup"] = {"inline_keyboard": buttons}
    try:
        return call("editMessageText", params)
    except BotApiError as exc:
        if exc.not_modified:
            return None
        raise


def answer_callback(callback_id: str, text: str, *, alert: bool = False) -> None:
    call(
        "answerCallbackQuery",
        {"callback_query_id": callback_id, "text": text[:ALERT_MAX], "show_alert": alert},
    )
