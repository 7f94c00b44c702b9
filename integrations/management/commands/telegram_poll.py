"""
`manage.py telegram_poll`: Telegram's updates by long polling, when no webhook secret is set.

Started by both Procfiles. With no `TELEGRAM_BOT_TOKEN`, or with `TELEGRAM_WEBHOOK_SECRET`
set (updates then come by webhook), it has nothing to do and sleeps, so that the
process manager does not restart it over and over. Otherwise it deletes any webhook
(Telegram refuses getUpdates while one is set) and asks for updates, each handled as
the webhook would (`updates.handle_update`), the offset moving past each one handled.
"""

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from integrations.chat import client, updates

logger = logging.getLogger(__name__)

LONG_POLL_SECONDS = 25
# After an error (Telegram down, a bad token), wait this long, doubling up to the cap.
ERROR_WAIT_SECONDS, ERROR_WAIT_MAX_SECONDS = 1.0, 60.0


class Command(BaseCommand):
    help = "Receive Telegram updates by long polling (when no webhook secret is set)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one getUpdates round, then exit (tests)")
        parser.add_argument("--poll-timeout", type=int, default=LONG_POLL_SECONDS)

    def handle(self, *args, once=False, poll_timeout=LONG_POLL_SECONDS, **options):
        stop = threading.Event()
        if not once:
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
        if not settings.TELEGRAM_BOT_TOKEN or settings.TELEGRAM_WEBHOOK_SECRET:
            why = "no TELEGRAM_BOT_TOKEN" if not settings.TELEGRAM_BOT_TOKEN else "updates come by webhook"
            self.stdout.write(f"telegram_poll: {why}; nothing to poll")
            if not once:
                stop.wait()
            return
        offset, wait = None, ERROR_WAIT_SECONDS
        dropped = False
        while not stop.is_set():
            try:
                if not dropped:
                    client.call("deleteWebhook", {"drop_pending_updates": False})
                    dropped = True
                params = {"timeout": poll_timeout, "allowed_updates": ["message", "callback_query"]}
                if offset is not None:
                    params["offset"] = offset
                batch = client.call("getUpdates", params, timeout=poll_timeout + 10) or []
                wait = ERROR_WAIT_SECONDS
            except client.BotApiError as exc:
                logger.warning("telegram_poll: %s; again in %.0f s", exc, wait)
                if once:
                    raise
                stop.wait(wait)
                wait = min(wait * 2, ERROR_WAIT_MAX_SECONDS)
                continue
            for update in batch if isinstance(batch, list) else []:
                if not once:
                    # A process that lives for days: drop a connection past CONN_MAX_AGE or broken.
                    close_old_connections()
                try:
                    updates.handle_update(update)
                except Exception:  # one bad update must not stop the bot for everyone
                    logger.exception("telegram_poll: update %s failed", update.get("update_id"))
                if isinstance(update, dict) and isinstance(update.get("update_id"), int):
                    offset = update["update_id"] + 1
            if once:
                return
