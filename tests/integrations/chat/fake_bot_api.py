"""
A fake Telegram Bot API on loopback: real HTTP, Telegram's request and answer shapes.

`POST /bot<token>/<method>` with a JSON body, answering `{"ok": true, "result": …}` or
`{"ok": false, "error_code", "description", "parameters": {"retry_after"}}` as the real
one does. It records every call (`calls`), keeps the messages of each chat (ids counted
per chat, edits applied, "message is not modified" for an edit to the same text), can be
told to fail the next calls of a method (`fail`), queues updates for `getUpdates`, and
posts updates to a webhook (`post_update`) with the secret-token header.
"""

import json
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from incidents import channels, outbound

TOKEN = "123456:TEST-token-of-the-fake"
BOT_USERNAME = "crisis_desk_test_bot"
SECRET = "webhook-secret-of-the-test"


@contextmanager
def serving(settings):
    """A fake Bot API, and the desk's Telegram settings (pytest-django's `settings`) pointed at it."""
    fake = FakeBotApi()
    settings.TELEGRAM_BOT_TOKEN = TOKEN
    settings.TELEGRAM_API_URL = fake.url
    settings.TELEGRAM_BOT_USERNAME = ""
    settings.TELEGRAM_WEBHOOK_SECRET = SECRET
    settings.NOTIFICATION_CHANNELS = {
        **settings.NOTIFICATION_CHANNELS,
        "telegram": "integrations.chat.telegram.TelegramChannel",
    }
    try:
        yield fake
    finally:
        channels.adapters.cache_clear()
        fake.close()


class FakeBotApi:
    def __init__(self, token: str = TOKEN):
        self.token = token
        self.lock = threading.Lock()
        self.calls: list[tuple[float, str, dict]] = []  # (time, method, params) of every call answered ok
        self.refused: list[tuple[float, str, dict, int]] = []  # the calls answered with an error
        self.messages: dict[int, dict[int, dict]] = defaultdict(dict)  # chat → message id → {text, buttons}
        self.next_id: dict[int, int] = defaultdict(lambda: 100)
        self.failures: dict[str, list[tuple[int, dict]]] = defaultdict(list)  # method → [(status, extra)]
        self.updates: list[dict] = []
        self.update_id = 1000
        self.updates_ready = threading.Condition(self.lock)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # As real servers do: a response's header and body writes would otherwise wait
            # for the client's delayed ACK (Nagle), ~40 ms a request on a kept-alive connection.
            disable_nagle_algorithm = True

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                prefix, _sep, method = self.path.lstrip("/").partition("/")
                try:
                    params = json.loads(body or b"{}")
                except ValueError:
                    params = None
                status, answer = fake.answer(prefix, method, params)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self._trust = outbound.trusting("127.0.0.1", self.port)
        self._trust.__enter__()

    def close(self):
        self._trust.__exit__(None, None, None)
        with self.lock:
            self.updates_ready.notify_all()
        self.server.shutdown()
        self.server.server_close()

    # --- Scripting ---------------------------------------------------------------------------

    def fail(
        self, method: str, status: int, *, times: int = 1, retry_after: int | None = None, description=""
    ):
        """The next `times` calls of `method` answer `status` (429 with `retry_after`)."""
        extra = {
            "description": description or {429: "Too Many Requests: retry after"}.get(status, "Internal")
        }
        if retry_after is not None:
            extra["parameters"] = {"retry_after": retry_after}
        with self.lock:
            self.failures[method] += [(status, extra)] * times

    def queue_update(self, update: dict) -> dict:
        with self.lock:
            self.update_id += 1
            update = {"update_id": self.update_id, **update}
            self.updates.append(update)
            self.updates_ready.notify_all()
        return update

    def post_update(self, url: str, update: dict, *, secret: str | None) -> requests.Response:
        """Post `update` to a webhook as Telegram does (the secret in its header when given)."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return requests.post(url, json=update, headers=headers, timeout=10)

    # --- Reading -----------------------------------------------------------------------------

    def sent(self, method: str | None = None, chat_id=None) -> list[dict]:
        with self.lock:
            return [
                params
                for _at, name, params in self.calls
                if (method is None or name == method)
                and (chat_id is None or str(params.get("chat_id")) == str(chat_id))
            ]

    def times(self, chat_id=None) -> list[float]:
        with self.lock:
            return [
                at
                for at, name, params in self.calls
                if name in ("sendMessage", "editMessageText")
                and (chat_id is None or str(params.get("chat_id")) == str(chat_id))
            ]

    # --- Answering ---------------------------------------------------------------------------

    def answer(self, prefix: str, method: str, params) -> tuple[int, dict]:
        if prefix != f"bot{self.token}":
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if not isinstance(params, dict):
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request: no JSON"}
        with self.lock:
            if self.failures[method]:
                status, extra = self.failures[method].pop(0)
                self.refused.append((time.time(), method, params, status))
                return status, {"ok": False, "error_code": status, **extra}
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._get_updates(params)}
        with self.lock:
            result = self._do(method, params)
            if isinstance(result, tuple):
                self.refused.append((time.time(), method, params, result[0]))
                return result[0], {"ok": False, "error_code": result[0], "description": result[1]}
            self.calls.append((time.time(), method, params))
            return 200, {"ok": True, "result": result}

    def _do(self, method: str, params: dict):
        if method == "getMe":
            return {"id": int(self.token.split(":")[0]), "is_bot": True, "username": BOT_USERNAME}
        if method in ("deleteWebhook", "setWebhook", "answerCallbackQuery"):
            return True
        if method == "sendMessage":
            chat = int(params["chat_id"])
            if not str(params.get("text") or "").strip():
                return 400, "Bad Request: message text is empty"
            if len(params["text"]) > 4096:
                return 400, "Bad Request: message is too long"
            self.next_id[chat] += 1
            message_id = self.next_id[chat]
            self.messages[chat][message_id] = {"text": params["text"], "buttons": params.get("reply_markup")}
            return {
                "message_id": message_id,
                "chat": {"id": chat},
                "date": int(time.time()),
                "text": params["text"],
            }
        if method == "editMessageText":
            chat, message_id = int(params["chat_id"]), int(params["message_id"])
            message = self.messages[chat].get(message_id)
            if message is None:
                return 400, "Bad Request: message to edit not found"
            if message["text"] == params["text"] and message["buttons"] == params.get("reply_markup"):
                return 400, "Bad Request: message is not modified"
            message.update(text=params["text"], buttons=params.get("reply_markup"))
            return {"message_id": message_id, "chat": {"id": chat}, "text": params["text"]}
        return 404, "Not Found: method not found"

    def _get_updates(self, params: dict) -> list[dict]:
        offset = params.get("offset") or 0
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 5.0)
        with self.lock:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            while not self.updates and time.monotonic() < deadline:
                self.updates_ready.wait(deadline - time.monotonic())
            self.calls.append((time.time(), "getUpdates", params))
            return list(self.updates)


# --- Updates as Telegram shapes them ---------------------------------------------------------------


def user(telegram_id: int, username: str = "") -> dict:
    return {
        "id": telegram_id,
        "is_bot": False,
        "first_name": username or "T",
        "username": username or f"u{telegram_id}",
    }


def start(code: str, *, sender: dict, chat: dict | None = None) -> dict:
    chat = chat or {"id": sender["id"], "type": "private", "first_name": sender["first_name"]}
    text = f"/start {code}" if chat["type"] == "private" else f"/start@{BOT_USERNAME} {code}"
    return {
        "message": {"message_id": 1, "date": int(time.time()), "chat": chat, "from": sender, "text": text}
    }


def group_chat(chat_id: int = -1001234567890, title: str = "Acme crisis room") -> dict:
    return {"id": chat_id, "type": "supergroup", "title": title}


def press(data: str, *, sender: dict, chat_id: int, message_id: int) -> dict:
    return {
        "callback_query": {
            "id": f"cb{time.monotonic_ns()}",
            "from": sender,
            "chat_instance": "1",
            "data": data,
            "message": {"message_id": message_id, "date": int(time.time()), "chat": {"id": chat_id}},
        }
    }
