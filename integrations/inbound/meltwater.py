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


def mention_from(doc, at: str) -> dict:
    """One `api.json` document as our mention's fields; `at` is its path in the batch."""
    doc = reading.obj(doc, at, required=True)
    own_id = reading.identifier(doc.get("id"), f"{at}.id", required=True)
    post_id = reading.identifier(doc.get("external_id"), f"{at}.external_id")
    url = reading.text(doc.get("url"), f"{at}.url")
    source = reading.obj(doc.get("source"), f"{at}.source")
    kind = reading.text(source.get("type"), f"{at}.source.type") or reading.text(
        source.get("information_type"), f"{at}.source.information_type"
    )
    platform = channel_for(url=url, source_type=kind)
    author = reading.obj(doc.get("author"), f"{at}.author")
    content = reading.obj(doc.get("content"), f"{at}.content")
    matched = reading.obj(doc.get("matched"), f"{at}.matched")
    opening = reading.text(content.get("opening_text"), f"{at}.content.opening_text") or reading.text(
        matched.get("hit_sentence"), f"{at}.matched.hit_sentence"
    )
    enrichments = reading.obj(doc.get("enrichments"), f"{at}.enrichments")
    metrics = reading.obj(doc.get("metrics"), f"{at}.metrics")
    return {
        "external_id": mentions.external_id(tool=TOOL, platform=platform, post_id=post_id, own_id=own_id),
        "platform": platform,
        "url": url,
        "author": reading.text(author.get("name"), f"{at}.author.name")
        or reading.text(author.get("handle"), f"{at}.author.handle"),
        "author_followers": reading.count(author.get("followers"), f"{at}.author.followers"),
        "text": mentions.body_text(
            mentions.without_highlights(reading.text(content.get("title"), f"{at}.content.title")),
            mentions.without_highlights(opening),
        ),
        "sentiment": mentions.sentiment(enrichments.get("sentiment")),
        "reach": reading.count(metrics.get("reach"), f"{at}.metrics.reach"),
        "published_at": reading.instant(
            doc.get("published_date"), f"{at}.published_date", required=True
        ).isoformat(),
    }


def receive(*, principal, brand, batch) -> dict:
    """Store a data-stream batch through the native intake; the answer's body."""
    batch = reading.obj(batch, "body", required=True)
    documents = reading.array(batch.get("documents"), "documents", required=True)
    if len(documents) > MENTION_BATCH_MAX:
        raise reading.problem(
            "documents", _("At most %(max)d documents per request.") % {"max": MENTION_BATCH_MAX}
        )
    items = [mention_from(doc, f"documents[{i}]") for i, doc in enumerate(documents)]

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
