"""
Mentions from listening tools, stored and detected exactly as `POST /api/v1/mentions/`.

An adapter maps each foreign document onto our mention fields and says, per field, how
the sender spells it; this module validates the batch with the native endpoint's
`validate_mention_batch`, names any problem in the sender's words, and hands the batch
to `incidents.waves.mentions_receive`. Nothing of a refused batch is stored.
"""

import re
from collections.abc import Callable

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError

from crisis.mention_input import MENTION_BATCH_MAX, validate_mention_batch
from crisis.models import Brand, Channel, Sentiment
from crisis.tenancy import Principal
from incidents import waves

# Listening tools highlight the matched words in a mention's text (YouScan: `<b>…</b>`).
# Only those tags go: text people wrote may hold a `<` of its own ("price <3 rub").
_HIGHLIGHT = re.compile(r"</?(?:b|strong|em|i|mark|u)>", re.IGNORECASE)

# Sentiments as the tools spell them; anything else (YouScan's `undefined`, a missing
# one, Meltwater's `unknown`) is neutral: it neither starts nor feeds a wave.
SENTIMENTS = {
    "negative": Sentiment.NEGATIVE,
    "neutral": Sentiment.NEUTRAL,
    "positive": Sentiment.POSITIVE,
}


def without_highlights(value: str) -> str:
    return _HIGHLIGHT.sub("", value) if "<" in value else value


def sentiment(value) -> str:
    return (
        SENTIMENTS.get(value.strip().lower(), Sentiment.NEUTRAL)
        if isinstance(value, str)
        else Sentiment.NEUTRAL
    )


def external_id(*, tool: str, platform: str, post_id: str, own_id: str) -> str:
    """
    The platform's own post id, so that one post seen by two tools is one mention;
    prefixed with the tool's name when the platform is `other` (ids of unknown places may
    clash), and the tool's own id, prefixed, when the platform's is not given.
    """
    if post_id and platform != Channel.OTHER:
        return post_id
    if post_id:
        return f"{tool}:{post_id}"
    return f"{tool}:mention:{own_id}"


def body_text(title: str, text: str) -> str:
    """A news item's headline matters as much as its opening; a post's title repeats its text."""
    title, text = title.strip(), text.strip()
    if not title or text.startswith(title):
        return text
    return f"{title}\n\n{text}" if text else title


def receive(
    *,
    principal: Principal,
    brand: Brand,
    items: list[dict],
    name: Callable[[int, str], str],
) -> waves.Intake:
    """
    Validate and store mapped mentions; `name(index, field)` says how the sender spells
    our `field` of its `index`th document, for the 400.
    """
    if len(items) > MENTION_BATCH_MAX:  # checked by the caller before mapping; kept here as the rule
        raise ValidationError(
            {name(-1, ""): [_("At most %(max)d per request.") % {"max": MENTION_BATCH_MAX}]}
        )
    try:
        validated = validate_mention_batch(items)
    except ValidationError as error:
        raise ValidationError(_in_senders_words(error.detail, name)) from None
    return waves.mentions_receive(principal=principal, brand=brand, items=validated, now=timezone.now())


def _in_senders_words(detail, name) -> dict:
    """A batch's errors (a list per item, or DRF's {index: errors}) keyed by the sender's field names."""
    per_item = (
        enumerate(detail) if isinstance(detail, list) else detail.items() if isinstance(detail, dict) else ()
    )
    named = {}
    for index, errors in per_item:
        if isinstance(index, int) and isinstance(errors, dict):
            for field, messages in errors.items():
                named[name(index, field)] = messages
        elif not isinstance(index, int) and errors:
            named[name(-1, "" if index == "non_field_errors" else index)] = errors
    return named or {name(-1, ""): [_("Invalid input.")]}
