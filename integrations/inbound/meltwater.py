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

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

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


def mention_from(doc) -> dict:
    """One `api.json` document as our mention's fields (paths in errors: from the document)."""
    doc = reading.obj(doc, "", required=True)
    own_id = reading.identifier(doc.get("id"), "id", required=True)
    post_id = reading.identifier(doc.get("external_id"), "external_id")
    url = reading.text(doc.get("url"), "url")
    source = reading.obj(doc.get("source"), "source")
    kind = reading.text(source.get("type"), "source.type") or reading.text(
        source.get("information_type"), "source.information_type"
    )
    platform = channel_for(url=url, source_type=kind)
    author = reading.obj(doc.get("author"), "author")
    content = reading.obj(doc.get("content"), "content")
    matched = reading.obj(doc.get("matched"), "matched")
    opening = reading.text(content.get("opening_text"), "content.opening_text") or reading.text(
        matched.get("hit_sentence"), "matched.hit_sentence"
    )
    enrichments = reading.obj(doc.get("enrichments"), "enrichments")
    metrics = reading.obj(doc.get("metrics"), "metrics")
    return {
        "external_id": mentions.external_id(tool=TOOL, platform=platform, post_id=post_id, own_id=own_id),
        "platform": platform,
        "url": url,
        "author": reading.text(author.get("name"), "author.name")
        or reading.text(author.get("handle"), "author.handle"),
        "author_followers": reading.count(author.get("followers"), "author.followers"),
        "text": mentions.body_text(
            mentions.without_highlights(reading.text(content.get("title"), "content.title")),
            mentions.without_highlights(opening),
        ),
        "sentiment": mentions.sentiment(enrichments.get("sentiment")),
        "reach": reading.count(metrics.get("reach"), "metrics.reach"),
        # As sent: the native rule judges it (ISO 8601, not ahead of our clock, not before 2000).
        "published_at": doc.get("published_date"),
    }


def receive(*, principal, brand, batch) -> dict:
    """Store a data-stream batch through the native intake; the answer's body."""
    batch = reading.obj(batch, "body", required=True)
    documents = reading.array(batch.get("documents"), "documents", required=True)
    if len(documents) > MENTION_BATCH_MAX:
        raise reading.problem(
            "documents", _("At most %(max)d documents per request.") % {"max": MENTION_BATCH_MAX}
        )
    items = []
    for i, doc in enumerate(documents):
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
        batch = reading.json_body(request, limit=BODY_LIMIT)
        return Response(receive(principal=self.principal, brand=request.auth.brand, batch=batch))
