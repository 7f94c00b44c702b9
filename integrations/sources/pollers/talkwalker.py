"""
Talkwalker: the results a streaming collector kept for us, resumed from an offset.

`GET {TALKWALKER_API_URL}/api/v3/stream/c/{collector_id}/results` with `access_token`,
`resume_offset` (the cursor; `earliest` the first time) and `end_behaviour=stop` (the
answer ends at the most recent result instead of waiting). The answer is a stream of
JSON chunks, one after another: `CT_RESULT` chunks carry a document in
`chunk_result.data.data`, `CT_CONTROL` chunks carry `chunk_control.resume_offset` (the
position after what came before it), and `CT_ERROR` reports a failure in-band while
the HTTP status stays 200. The cursor becomes the last `resume_offset` seen; results
after it come again next time and count as duplicates.

A document: `url`, `published` (milliseconds since the epoch), `title`, `content`,
`sentiment` (a signed integer: below 0 negative, 0 neutral, above 0 positive),
`source_type` (a list, e.g. `["NEWS", "NEWS_OTHER"]`), `reach`,
`extra_author_attributes.name`, and `external_id` where Talkwalker gives one.
"""

import json
from urllib.parse import quote

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
    text,
    web_url,
    whole_number,
)

TOOL = "talkwalker"


class Talkwalker(Poller):
    tool = TOOL

    def fetch(self, source, secret: str, cursor: str) -> Page:
        collector = quote(source.query, safe="")
        body, cut = http_get(
            f"{settings.TALKWALKER_API_URL.rstrip('/')}/api/v3/stream/c/{collector}/results",
            params={
                "access_token": secret,
                "resume_offset": cursor or "earliest",
                "end_behaviour": "stop",
                "pretty": "false",
            },
            secrets=(secret,),
            tool="Talkwalker",
        )
        chunks, complete = _chunks(body, cut=cut)
        documents, offset, seen_control = [], cursor, False
        kept = []  # the documents before the last resume point, when the answer was cut
        for chunk in chunks:
            kind = chunk.get("chunk_type")
            if kind == "CT_ERROR":
                error = chunk.get("chunk_error")
                if isinstance(error, dict):
                    error = error.get("message") or error.get("description")
                detail = error
                raise PollError(f"Talkwalker: {text(detail, limit=300) or 'error in the stream'}")
            if kind == "CT_CONTROL":
                control = chunk.get("chunk_control")
                resume = control.get("resume_offset") if isinstance(control, dict) else None
                if isinstance(resume, int) and not isinstance(resume, bool):
                    resume = str(resume)
                if not isinstance(resume, str) or len(resume) > 1000:
                    raise PollError("Talkwalker sent a control chunk without a usable resume_offset")
                offset, seen_control = resume, True
                kept = list(documents)
            elif kind == "CT_RESULT":
                result = chunk.get("chunk_result")
                data = result.get("data") if isinstance(result, dict) else None
                documents.append(data.get("data") if isinstance(data, dict) else None)
        if not complete:
            # Cut at the size cap: keep what a resume point covers, read the rest next time.
            if not seen_control or not kept:
                cap = settings.SOURCES_MAX_RESPONSE_BYTES
                raise PollError(f"Talkwalker sent more than {cap} bytes without a resume point")
            documents = kept
        items, skipped = self.read_items(documents, self.mention)
        return Page(items=items, cursor=offset, more=not complete, skipped=skipped)

    def mention(self, document) -> dict:
        if not isinstance(document, dict):
            raise ItemError("a result without a document")
        published = whole_number(document.get("published"), "published", required=True, minimum=0)
        sentiment = whole_number(document.get("sentiment"), "sentiment")
        url = web_url(document.get("url"))
        # The platform's own post id, where Talkwalker gives one (a tweet's id): the same
        # post reported by another tool is then one mention; else its URL (base.external_id).
        post_id = document.get("external_id")
        usable = isinstance(post_id, int | str) and not isinstance(post_id, bool)
        post_id = str(post_id).strip()[:200] if usable else ""
        types = document.get("source_type")
        first_type = next((t for t in types if isinstance(t, str)), None) if isinstance(types, list) else None
        platform = channel_for(url=url, source_type=_specific_type(types) or first_type)
        author = document.get("extra_author_attributes")
        author = author if isinstance(author, dict) else {}
        reach = whole_number(document.get("reach"), "reach", minimum=0) or 0
        body = text(document.get("content"), limit=MENTION_TEXT_MAX) or text(
            document.get("title"), limit=MENTION_TEXT_MAX
        )
        if post_id and platform != "other":
            identity = post_id
        else:
            identity = external_id(tool=TOOL, platform=platform, native_id=post_id or url, url=url)
        return {
            "external_id": identity,
            "platform": platform,
            "url": url,
            "author": text(author.get("name"), limit=AUTHOR_MAX),
            "author_followers": 0,
            "text": body,
            "sentiment": "neutral" if not sentiment else ("negative" if sentiment < 0 else "positive"),
            "reach": min(reach, 10**15),
            "published_at": instant(published / 1000, "published"),
        }


def _specific_type(types) -> str | None:
    """Of Talkwalker's source types (`["SOCIALMEDIA", "SOCIALMEDIA_TWITTER"]`), the most specific one."""
    if not isinstance(types, list):
        return None
    named = [t for t in types if isinstance(t, str) and "_" in t]
    return named[0] if named else None


def _chunks(body: bytes, *, cut: bool) -> tuple[list[dict], bool]:
    """
    The JSON objects of a chunked answer, one after another (whitespace between them),
    and whether the answer was whole. An object broken off at the size cap ends the list;
    broken anywhere else, the answer is the tool's error.
    """
    try:
        source = body.decode("utf-8", errors="strict" if not cut else "ignore")
    except UnicodeDecodeError:
        raise PollError("Talkwalker answered something that is not UTF-8 text") from None
    decoder = json.JSONDecoder()
    chunks, position = [], 0
    while True:
        while position < len(source) and source[position].isspace():
            position += 1
        if position >= len(source):
            return chunks, not cut
        try:
            chunk, position = decoder.raw_decode(source, position)
        except (ValueError, RecursionError):
            if cut:
                return chunks, False
            raise PollError("Talkwalker answered something that is not complete JSON") from None
        if not isinstance(chunk, dict):
            raise PollError("Talkwalker sent a chunk that is not a JSON object")
        chunks.append(chunk)
