"""The fake Bot API, and the desk's Telegram settings pointed at it."""

import pytest

from incidents import channels

from .fake_bot_api import TOKEN, FakeBotApi

SECRET = "webhook-secret-of-the-test"


@pytest.fixture
def bot_api(settings):
    fake = FakeBotApi()
    settings.TELEGRAM_BOT_TOKEN = TOKEN
    settings.TELEGRAM_API_URL = fake.url
    settings.TELEGRAM_BOT_USERNAME = ""
    settings.TELEGRAM_WEBHOOK_SECRET = SECRET
    settings.NOTIFICATION_CHANNELS = {
        **settings.NOTIFICATION_CHANNELS,
        "telegram": "integrations.chat.telegram.TelegramChannel",
    }
    yield fake
    channels.adapters.cache_clear()
    fake.close()
