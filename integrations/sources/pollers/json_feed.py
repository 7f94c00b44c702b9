"""
A generic JSON feed: any URL a customer can script that answers our own shape.

`GET {the source's URL}?cursor=<cursor>` (no `cursor` the first time), with
`Authorization: Bearer <credentials>` when the source has credentials, answered
`{"mentions": [...], "cursor": "...", "has_more": false}`: each mention in the shape of
`POST /api/v1/mentions/` (`external_id`, `platform`, `url`, `author`,
`author_followers`, `text`, `sentiment`, `reach`, `published_at`); other fields are
ignored, and a platform we do not know (or a domain such as `vk.com`) goes through the
channel table. `cursor` is opaque to us (up to 1,000 characters): we send it back; null or
absent keeps the one we have. `has_more: true` asks for the next page at once.
"""

from ...channels import channel_for
from .base import ItemError, Page, Poller, PollError, http_get, parse_json

TOOL = "json_feed"
FIELDS = (
    "external_id",
    "platform",
    "url",
    "author",
    "author_followers",
    "text",
    "sentiment",
    "reach",
    "published_at",
)
CHANNELS = {
    "vk", "telegram", "instagram", "facebook", "x", "youtube", "tiktok", "ok", "dzen",
    "reviews", "media", "forum", "other",
}  # fmt: skip


class JsonFeed(Poller):
    tool = TOOL

    def fetch(self, source, secret: str, cursor: str) -> Page:
        body, cut = http_get(
            source.query,
            params={"cursor": cursor} if cursor else None,
            headers={"Authorization": f"Bearer {secret}"} if secret else None,
            secrets=(secret,),
            tool="The feed",
        )
        answer = parse_json(body, cut=cut, tool="The feed")
        if not isinstance(answer, dict) or not isinstance(answer.get("mentions"), list):
            raise PollError("the feed's answer has no list `mentions`")
        following = answer.get("cursor")
        if following is None:
            following = cursor
        if isinstance(following, int) and not isinstance(following, bool):
            following = str(following)
        if not isinstance(following, str) or len(following) > 1000:
            raise PollError("the feed's `cursor` is not a string of at most 1,000 characters")
        items, skipped = self.read_items(answer["mentions"], self.mention)
        return Page(items=items, cursor=following, more=answer.get("has_more") is True, skipped=skipped)

    def mention(self, item) -> dict:
        if not isinstance(item, dict):
            raise ItemError("a mention is not an object")
        mention = {name: item[name] for name in FIELDS if name in item}
        platform = mention.get("platform")
        if isinstance(platform, str) and platform not in CHANNELS:
            mention["platform"] = channel_for(domain=platform)
        return mention
