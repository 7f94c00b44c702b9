"""The fake Bot API, and the desk's Telegram settings pointed at it."""

import pytest

from .fake_bot_api import serving


@pytest.fixture
def bot_api(settings):
    with serving(settings) as fake:
        yield fake
