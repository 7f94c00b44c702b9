"""
Meltwater's data streams ("hooks"): a batch of documents per POST (API.md, "Integrations").

A hook binds a saved search to a target URL; Meltwater POSTs `{"request": {"company_id",
"hook_id", "inputs"}, "documents": [...]}` with documents in the hook's output template
and treats any answer but 200 as a failure (developer.meltwater.com, "Data Streams").
We read the `api.json` template, the one Meltwater recommends: `id`, `published_date`,
`url`, `external_id` (the platform's own id; documented for X), `source`, `author`,
`content`, `enrichments`, `metrics`. Where its field reference was not at hand we
assumed, and docs/integrations/meltwater.md says so: `source.type` or
`source.information_type` for the kind of source, `author.name` (else `author.handle`),
`author.followers`, `content.title` and `content.opening_text` (else
`matched.hit_sentence`) for the text, `enrichments.sentiment` (positive, negative,
neutral; anything else is neutral) and `metrics.reach`.

Meltwater can only set the target URL, so the key goes in the path
(`…/meltwater/<key>/`) or as Basic credentials in the URL.
"""

from typing import Annotated, Any

import msgspec
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from api.text import free_text
from crisis.mention_input import MENTION_BATCH_MAX

from ..channels import channel_for
from . import mentions, reading
from .base import KeyAdapterView
from .youscan import INTAKE_ANSWER

TOOL = "meltwater"
# A batch of 1,000 documents with their texts fits; anything larger is refused unread.
BODY_LIMIT = 2 * 1024 * 1024

FOREIGN = {
    "external_id": "external_id",
    "platform": "source.type",
    "url": "url",
    "author": "author.name",
    "author_followers": "author.followers",
    "text": "content.opening_text",
    "sentiment": "enrichments.sentiment",
    "reach": "metrics.reach",
    "published_at": "published_date",
}


# What we read of an `api.json` document, declared for msgspec (`reading.typed_body`):
# everything else in it is skipped unread. Every field may be absent or null.
Count = Annotated[int, msgspec.Meta(ge=0, le=10**15)]


class Source(msgspec.Struct):
    type: str | None = None
    information_type: str | None = None


class Author(msgspec.Struct):
    name: str | None = None
    handle: str | None = None
    followers: Count | None = None


class Content(msgspec.Struct):
    title: str | None = None
    opening_text: str | None = None


class Matched(msgspec.Struct):
    hit_sentence: str | None = None


class Enrichments(msgspec.Struct):
    sentiment: Any = None  # anything but the three known words is neutral


class Metrics(msgspec.Struct):
    reach: Count | None = None


class Document(msgspec.Struct):
    id: str | int | None = None  # required: `mention_from` says so, as for an empty one
    external_id: str | int | None = None
    url: str | None = None
    source: Source | None = None
    author: Author | None = None
    content: Content | None = None
    matched: Matched | None = None
    enrichments: Enrichments | None = None
    metrics: Metrics | None = None
    published_date: Any = None  # judged by the native rule, which names its problem


class Batch(msgspec.Struct):
    documents: list[Document] | None = None  # required: `receive` says so, null or absent alike


# Stand-ins for an absent object, so that reading a field of it gives None.
_NO_SOURCE, _NO_AUTHOR, _NO_CONTENT = Source(), Author(), Content()
_NO_MATCH, _NO_ENRICHMENTS, _NO_METRICS = Matched(), Enrichments(), Metrics()


def mention_from(doc: Document) -> dict:
    """One `api.json` document as our mention's fields (paths in errors: from the document)."""
    own_id = reading.identifier(doc.id, "id", required=True)
    post_id = reading.identifier(doc.external_id, "external_id")
    url = free_text(doc.url or "")
    source = doc.source or _NO_SOURCE
    platform = channel_for(url=url, source_type=source.type or source.information_type)
    author = doc.author or _NO_AUTHOR
    content = doc.content or _NO_CONTENT
    opening = content.opening_text or (doc.matched or _NO_MATCH).hit_sentence or ""
    return {
        "external_id": mentions.external_id(tool=TOOL, platform=platform, post_id=post_id, own_id=own_id),
        "platform": platform,
        "url": url,
        "author": free_text(author.name or author.handle or ""),
        "author_followers": author.followers or 0,
        "text": mentions.body_text(
            mentions.without_highlights(free_text(content.title or "")),
            mentions.without_highlights(free_text(opening)),
        ),
        "sentiment": mentions.sentiment((doc.enrichments or _NO_ENRICHMENTS).sentiment),
        "reach": (doc.metrics or _NO_METRICS).reach or 0,
        # As sent: the native rule judges it (ISO 8601, not ahead of our clock, not before 2000).
        "published_at": doc.published_date,
    }


def receive(*, principal, brand, batch: Batch) -> dict:
    """Store a data-stream batch through the native intake; the answer's body."""
    if batch.documents is None:
        raise reading.problem("documents", _("This field is required."))
    if len(batch.documents) > MENTION_BATCH_MAX:
        raise reading.problem(
            "documents", _("At most %(max)d documents per request.") % {"max": MENTION_BATCH_MAX}
        )
    items = []
    for i, doc in enumerate(batch.documents):
        try:
            items.append(mention_from(doc))
        except ValidationError as error:
            # Paths are joined only for the document that failed: a batch of 1,000 good ones
            # would otherwise format every field's path for nothing.
            at = f"documents[{i}]"
            raise ValidationError({f"{at}.{k}" if k else at: v for k, v in error.detail.items()}) from None

    def name(index, field):
        return f"documents[{index}].{FOREIGN.get(field, field)}" if index >= 0 else "documents"

    intake = mentions.receive(principal=principal, brand=brand, items=items, name=name)
    return {"accepted": intake.accepted, "duplicates": intake.duplicates, "incidents": intake.incidents}


class MeltwaterView(KeyAdapterView):
    """`POST /integrations/meltwater/[{key}/]`: a Meltwater data-stream batch → 200."""

    @extend_schema(request={"application/json": {"type": "object"}}, responses={200: INTAKE_ANSWER})
    def post(self, request, key=None):
        batch = reading.typed_body(request, Batch, limit=BODY_LIMIT)
        return Response(receive(principal=self.principal, brand=request.auth.brand, batch=batch))
