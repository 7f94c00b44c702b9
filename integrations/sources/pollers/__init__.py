"""
One poller per tool, by `SourceKind`. A new tool (Brandwatch, Mention.com) is a module
here with a `Poller` subclass, a row in `POLLERS` and a choice in `SourceKind`: the
claiming, storing, cursor, backoff and credentials around it stay as they are.
"""

from ..models import SourceKind
from .base import Page, Poller, PollError
from .brand_analytics import BrandAnalytics
from .json_feed import JsonFeed
from .talkwalker import Talkwalker

POLLERS: dict[str, Poller] = {
    SourceKind.BRAND_ANALYTICS: BrandAnalytics(),
    SourceKind.TALKWALKER: Talkwalker(),
    SourceKind.JSON_FEED: JsonFeed(),
}

__all__ = ["POLLERS", "Page", "PollError", "Poller"]
