"""
Brand Analytics: the messages of a theme, read in the order Brand Analytics stored them.

Request (docs/integrations/brand-analytics.md says what we assumed where its Feed
documentation is silent): `GET {BRAND_ANALYTICS_API_URL}/v1/Feed.messages` with `token`,
`themeId` (the source's query), `timeStoreFrom` (Unix seconds, inclusive) and `limit`,
answered `{"data": {"messages": [...]}}` (or `{"error": {"code", "message"}}`), oldest
stored first. The cursor is the latest `timeStore` stored: the next poll asks from that
second again, so messages stored in the same second after our read are not missed;
the ones already stored come back as duplicates and change nothing.

A message: `id`, `url`, `timeCreate` and `timeStore` (Unix seconds), `toneMark` (−1, 0,
1), `hubName` (the site, e.g. `vk.com`) and `hubtypeId` (its kind), `authorRow` (with
`name` and `readers_count`), `textNorm` (the text without markup; `text` when absent),
`title`.
"""

from django.conf import settings

from crisis.mention_input import MENTION_TEXT_MAX

from ...channels import channel_for
from .base import (
    AUTHOR_MAX,
    ItemError,
    Page,
    Poller,
    PollError,
    external_id,
    http_get,
    instant,
    parse_json,
    text,
    web_url,
    whole_number,
)

TOOL = "brand_analytics"
PAGE_SIZE = 500
SENTIMENTS = {-1: "negative", 0: "neutral", 1: "positive"}
# hubtypeId → a source type of the channel table (integrations/channels.py); assumed
# from Brand Analytics' own categories: only the kinds that name one channel.
HUB_TYPES = {2: "news", 4: "forum", 5: "reviews"}
# A new source starts this far before it was created (its first poll is not the whole history).
BACKFILL_SECONDS = 3600


class BrandAnalytics(Poller):
    tool = TOOL

    def fetch(self, source, secret: str, cursor: str) -> Page:
        start = int(cursor) if cursor.isdigit() else int(source.created_at.timestamp()) - BACKFILL_SECONDS
        body, cut = http_get(
            f"{settings.BRAND_ANALYTICS_API_URL.rstrip('/')}/v1/Feed.messages",
            params={"token": secret, "themeId": source.query, "timeStoreFrom": start, "limit": PAGE_SIZE},
            secrets=(secret,),
            tool="Brand Analytics",
        )
        answer = parse_json(body, cut=cut, tool="Brand Analytics")
        if not isinstance(answer, dict):
            raise PollError("Brand Analytics answered JSON that is not an object")
        if answer.get("error"):
            error = answer["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise PollError(f"Brand Analytics: {text(message, limit=300) or 'error'}")
        data = answer.get("data")
        messages = data.get("messages") if isinstance(data, dict) else None
        if not isinstance(messages, list):
            raise PollError("Brand Analytics' answer has no list data.messages")
        stored_times = [m.get("timeStore") for m in messages if isinstance(m, dict)]
        items, skipped = self.read_items(messages, self.mention)
        numbers = [t for t in stored_times if isinstance(t, int) and not isinstance(t, bool)]
        latest = max(numbers, default=start)
        full = len(messages) >= PAGE_SIZE
        next_cursor = max(latest, start)
        if full and next_cursor == start:
            # A whole page stored in one second: asking from it again would return the
            # same page for ever. Move on and say what may have been left behind.
            next_cursor = start + 1
            skipped.append(f"more than {PAGE_SIZE} messages stored in second {start}; the rest were not read")
        return Page(items=items, cursor=str(next_cursor), more=full, skipped=skipped)

    def mention(self, message) -> dict:
        if not isinstance(message, dict):
            raise ItemError("a message is not an object")
        native = message.get("id")
        if isinstance(native, bool) or not isinstance(native, int | str) or not str(native).strip():
            raise ItemError("a message without an id")
        native = str(native).strip()[:200]
        stored = whole_number(message.get("timeStore"), "timeStore", required=True, minimum=0)
        created = whole_number(message.get("timeCreate"), "timeCreate", minimum=0)
        tone = message.get("toneMark")
        if isinstance(tone, bool) or tone not in SENTIMENTS:
            raise ItemError(f"message {native}: toneMark is not -1, 0 or 1")
        author = message.get("authorRow") if isinstance(message.get("authorRow"), dict) else {}
        readers = whole_number(author.get("readers_count"), "authorRow.readers_count", minimum=0) or 0
        url = web_url(message.get("url"))
        hub_type = message.get("hubtypeId")
        platform = channel_for(
            domain=text(message.get("hubName"), limit=200),
            url=url,
            source_type=HUB_TYPES.get(hub_type) if isinstance(hub_type, int) else None,
        )
        body = text(message.get("textNorm"), limit=MENTION_TEXT_MAX) or text(
            message.get("text"), limit=MENTION_TEXT_MAX
        )
        return {
            "external_id": external_id(tool=TOOL, platform=platform, native_id=native, url=url),
            "platform": platform,
            "url": url,
            "author": text(author.get("name"), limit=AUTHOR_MAX),
            "author_followers": min(readers, 10**12),
            "text": body or text(message.get("title"), limit=MENTION_TEXT_MAX),
            "sentiment": SENTIMENTS[tone],
            # The author's audience is what Brand Analytics counts as a post's reach.
            "reach": min(readers, 10**15),
            "published_at": instant(created if created is not None else stored, "timeCreate"),
        }
