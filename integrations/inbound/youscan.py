"""
YouScan's webhook: one mention per POST (API.md, "Integrations").

YouScan posts each new mention of a topic as its `WebhookMention` (developers.youscan.io,
"Webhook"): `topicId`, `mentionId` (int64), `published`, `postType` and `resourceType`
always; every other field only when it has a value (nulls are omitted). Quirks handled:
`sentiment` may be `undefined` or missing (→ neutral); `title` and `text` carry the
matched words in `<b>` tags (stripped); mentions a source restricts (X/Twitter) arrive
without `text`, `url` or `author`. YouScan can only set a URL, with optional Basic
credentials in it (`https://any:<key>@host/…`), or the key in the path; it counts any
2xx as delivered and retries otherwise.

Mapping: `postId` (the platform's own id) → `external_id`; `sourceName` (a domain),
the URL and `resourceType` → `platform` through the one channel table; `author.name`
(else `nickname`) → `author`; `author.subscribers` → `author_followers`; `reach`, else
`potentialReach` → `reach`; `title` and `text` → `text`; `published` → `published_at`.
"""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from ..channels import channel_for
from . import mentions, reading
from .base import KeyAdapterView

TOOL = "youscan"
BODY_LIMIT = 512 * 1024  # one mention; well above a 10,000-character text in any encoding

# Our mention field → how YouScan spells it, for the 400s.
FOREIGN = {
    "external_id": "postId",
    "platform": "sourceName",
    "url": "url",
    "author": "author.name",
    "author_followers": "author.subscribers",
    "text": "text",
    "sentiment": "sentiment",
    "reach": "potentialReach",
    "published_at": "published",
}


def mention_from(doc) -> dict:
    """One `WebhookMention` as our mention's fields."""
    doc = reading.obj(doc, "body", required=True)
    mention_id = reading.identifier(doc.get("mentionId"), "mentionId", required=True)
    post_id = reading.identifier(doc.get("postId"), "postId")
    url = reading.text(doc.get("url"), "url")
    platform = channel_for(
        domain=reading.text(doc.get("sourceName"), "sourceName"),
        url=url,
        source_type=reading.text(doc.get("resourceType"), "resourceType"),
    )
    author = reading.obj(doc.get("author"), "author")
    reach = reading.count(doc.get("reach"), "reach") or reading.count(
        doc.get("potentialReach"), "potentialReach"
    )
    return {
        "external_id": mentions.external_id(tool=TOOL, platform=platform, post_id=post_id, own_id=mention_id),
        "platform": platform,
        "url": url,
        "author": reading.text(author.get("name"), "author.name")
        or reading.text(author.get("nickname"), "author.nickname"),
        "author_followers": reading.count(author.get("subscribers"), "author.subscribers"),
        "text": mentions.body_text(
            mentions.without_highlights(reading.text(doc.get("title"), "title")),
            mentions.without_highlights(reading.text(doc.get("text"), "text")),
        ),
        "sentiment": mentions.sentiment(doc.get("sentiment")),
        "reach": reach,
        # As sent: the native rule judges it (ISO 8601, not ahead of our clock, not before 2000).
        "published_at": doc.get("published"),
    }


def receive(*, principal, brand, doc) -> dict:
    """Store one YouScan mention through the native intake; the answer's body."""
    intake = mentions.receive(
        principal=principal,
        brand=brand,
        items=[mention_from(doc)],
        name=lambda _index, field: FOREIGN.get(field, field or "body"),
    )
    return {"accepted": intake.accepted, "duplicates": intake.duplicates, "incidents": intake.incidents}


INTAKE_ANSWER = inline_serializer(
    "AdapterIntake",
    {
        "accepted": serializers.IntegerField(),
        "duplicates": serializers.IntegerField(),
        "incidents": serializers.ListField(child=serializers.IntegerField()),
    },
)


class YouScanView(KeyAdapterView):
    """`POST /integrations/youscan/[{key}/]`: one YouScan webhook mention → 200."""

    @extend_schema(request={"application/json": {"type": "object"}}, responses={200: INTAKE_ANSWER})
    def post(self, request, key=None):
        doc = reading.json_body(request, limit=BODY_LIMIT)
        return Response(receive(principal=self.principal, brand=request.auth.brand, doc=doc))
