"""
A mention as a monitoring tool reports it: the one rule for `POST /api/v1/mentions/`
(a single mention or a batch of up to 1,000) and for every adapter that turns a
listening tool's shape into mentions.

The rule is declared once, as a pydantic `TypedDict` validated in pydantic-core: a batch
of 1,000 costs a few milliseconds, where DRF's per-field machinery cost more than storing
the batch (docs/benchmarks.md). Clients see DRF's conventions all the same (API.md,
"Conventions"): each broken value is a 400 naming the item's index and the field, with the
message DRF gives for that kind of field — the messages are DRF's own, so they are
translated like every other answer. Where DRF's lenience is part of the contract (numbers
taken as identifiers, "12" and 3.0 taken as integers, naive times in the current zone,
whitespace trimmed), the small functions below do exactly what DRF's fields do.
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NotRequired

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import ProhibitNullCharactersValidator, URLValidator
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError
from rest_framework import ISO_8601, serializers
from rest_framework.utils import humanize_datetime
from rest_framework.validators import ProhibitSurrogateCharactersValidator
from typing_extensions import TypedDict

from api.text import free_text, is_unsafe

from .models import Category, Channel, Sentiment
from .serializers import reported_time

MENTION_TEXT_MAX = 10_000
MENTION_BATCH_MAX = 1000

# DRF's own messages, so that an answer reads (and is translated) as every other 400.
_FIELD = serializers.Field.default_error_messages
_CHAR = serializers.CharField.default_error_messages
_INTEGER = serializers.IntegerField.default_error_messages
_DATETIME = serializers.DateTimeField.default_error_messages
_ISO_FORMATS = humanize_datetime.datetime_formats([ISO_8601])


def _refuse(message) -> PydanticCustomError:
    # The message is final (DRF's wording, translated now); `_message` passes it through.
    return PydanticCustomError("refused", "{message}", {"message": str(message)})


def _text_of(value: Any, *, allow_blank: bool, trim: bool, invalid=_CHAR["invalid"]) -> str:
    """
    What DRF's CharField makes of a value: numbers as text, blank refused unless allowed.
    Anything else is `invalid`: DRF's slug and URL fields say so in their own words.
    """
    if value is None:
        raise _refuse(_FIELD["null"])
    if value == "" or (trim and str(value).strip() == ""):
        if not allow_blank:
            raise _refuse(_CHAR["blank"])
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _refuse(invalid)
    value = str(value)
    return value.strip() if trim else value


def _name(value: Any, *, allow_blank: bool = False, invalid=_CHAR["invalid"]) -> str:
    """An identifier, URL or choice: NUL or a lone surrogate is refused, not cleaned (api.text)."""
    if isinstance(value, str) and is_unsafe(value):
        if "\x00" in value:
            raise _refuse(ProhibitNullCharactersValidator.message)
        try:
            ProhibitSurrogateCharactersValidator()(value)
        except serializers.ValidationError as error:
            raise _refuse(error.detail[0]) from None
    return _text_of(value, allow_blank=allow_blank, trim=True, invalid=invalid)


def _choice(value: Any) -> Any:
    """A choice is matched exactly (no trimming), after the same refusal of unsafe text."""
    if value is None:
        raise _refuse(_FIELD["null"])
    if isinstance(value, str) and is_unsafe(value):
        _name(value)
    return value


def _free(value: Any, *, trim: bool) -> str:
    """Free text people write: a broken emoji becomes U+FFFD and NUL is dropped, never a 400."""
    if isinstance(value, str):
        value = free_text(value)
    return _text_of(value, allow_blank=True, trim=trim)


_DECIMAL_ZEROS = re.compile(r"\.0*\s*$")  # "1.0" is taken as 1, "1.2" is not (as DRF does)


def _integer(value: Any) -> int:
    """What DRF's IntegerField makes of a value: "12", " 12 " and 3.0 are integers; True is not."""
    if value is None:
        raise _refuse(_FIELD["null"])
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and len(value) > serializers.IntegerField.MAX_STRING_LENGTH:
        raise _refuse(_INTEGER["max_string_length"])
    try:
        return int(_DECIMAL_ZEROS.sub("", str(value)))
    except (ValueError, TypeError):
        raise _refuse(_INTEGER["invalid"]) from None


_URL = serializers.URLField.default_error_messages["invalid"]
_SLUG = serializers.SlugField.default_error_messages["invalid"]
_is_url = URLValidator()


def _valid_url(value: str) -> str:
    if value:
        try:
            _is_url(value)
        except DjangoValidationError:
            raise _refuse(_URL) from None
    return value


def _published_at(value: Any) -> datetime:
    """An ISO 8601 time, naive ones in the current zone, kept in UTC; not in the future."""
    if value is None:
        raise _refuse(_FIELD["null"])
    try:
        parsed = parse_datetime(value)
    except (ValueError, TypeError):
        parsed = None
    if parsed is None:
        raise _refuse(_DATETIME["invalid"].format(format=_ISO_FORMATS))
    try:
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed)
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        raise _refuse(_DATETIME["overflow"]) from None
    try:
        return reported_time(parsed, timezone.now())
    except serializers.ValidationError as error:
        raise _refuse(error.detail[0]) from None


# Each field's type says what pydantic-core checks (lengths, ranges, choices); the
# validator around it does first what DRF's field would (see the functions above).
def _identifier(max_length: int, *, allow_blank=False, pattern: str | None = None, invalid=_CHAR["invalid"]):
    return Annotated[
        str,
        # (A blank one never reaches min_length: `_name` refuses it in DRF's words first.)
        StringConstraints(min_length=0 if allow_blank else 1, max_length=max_length, pattern=pattern),
        BeforeValidator(lambda value: _name(value, allow_blank=allow_blank, invalid=invalid)),
    ]


def _free_text(max_length: int, *, trim: bool):
    return Annotated[
        str, StringConstraints(max_length=max_length), BeforeValidator(lambda v: _free(v, trim=trim))
    ]


def _count(minimum: int, maximum: int):
    return Annotated[int, Field(ge=minimum, le=maximum), BeforeValidator(_integer)]


def _choices(values):
    return Annotated[Literal[tuple(values)], BeforeValidator(_choice)]


Url = Annotated[
    str,
    StringConstraints(max_length=2000),
    BeforeValidator(lambda value: _name(value, allow_blank=True, invalid=_URL)),
    AfterValidator(_valid_url),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "format": "uri", "maxLength": 2000},
                {"type": "string", "maxLength": 0},
            ],
            "default": "",
        }
    ),
]
ReportedTime = Annotated[
    datetime, PlainValidator(_published_at), WithJsonSchema({"type": "string", "format": "date-time"})
]


class MentionItem(TypedDict):
    """One mention as a monitoring tool reports it."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # a typo must not pass silently

    brand: NotRequired[_identifier(50, pattern=r"^[-a-zA-Z0-9_]+$", invalid=_SLUG)]
    external_id: _identifier(255)
    platform: _choices(Channel.values)
    url: NotRequired[Url]
    author: NotRequired[_free_text(255, trim=True)]
    author_followers: NotRequired[_count(0, 10**12)]
    text: NotRequired[_free_text(MENTION_TEXT_MAX, trim=False)]
    sentiment: _choices(Sentiment.values)
    reach: NotRequired[_count(0, 10**15)]
    published_at: ReportedTime
    # Optional: attach to an incident directly, by id or by its dedup key.
    incident: NotRequired[_count(1, 2**62)]
    dedup_key: NotRequired[_identifier(255, allow_blank=True)]
    category: NotRequired[_choices(Category.values)]


# What an item that leaves these out stands for.
DEFAULTS = {"url": "", "author": "", "author_followers": 0, "text": "", "reach": 0}
_batch = TypeAdapter(list[MentionItem])


def validate_mention_batch(batch) -> list[dict]:
    """A batch of up to 1,000 mentions, each as `MentionItem` says, or DRF's 400 naming each fault."""
    if not isinstance(batch, list):
        message = serializers.ListSerializer.default_error_messages["not_a_list"]
        raise serializers.ValidationError(
            {"non_field_errors": [message.format(input_type=type(batch).__name__)]}
        )
    if len(batch) > MENTION_BATCH_MAX:
        message = serializers.ListSerializer.default_error_messages["max_length"]
        raise serializers.ValidationError(
            {"non_field_errors": [message.format(max_length=MENTION_BATCH_MAX)]}
        )
    try:
        items = _batch.validate_python(batch)
    except ValidationError as error:
        raise serializers.ValidationError(_by_item(error.errors(include_url=False), batch)) from None
    return [{**DEFAULTS, **item} for item in items]


def _message(error) -> str:
    """DRF's message for what pydantic-core found (the custom ones already carry theirs)."""
    kind, context = error["type"], error.get("ctx") or {}
    if kind == "refused":
        return context["message"]
    if kind == "missing":
        return str(_FIELD["required"])
    if kind == "string_too_long":
        return _CHAR["max_length"].format(max_length=context["max_length"])
    if kind == "string_pattern_mismatch":
        return str(_SLUG)
    if kind == "literal_error":
        return serializers.ChoiceField.default_error_messages["invalid_choice"].format(input=error["input"])
    if kind == "greater_than_equal":
        return _INTEGER["min_value"].format(min_value=context["ge"])
    if kind == "less_than_equal":
        return _INTEGER["max_value"].format(max_value=context["le"])
    # Not reachable through the validators above; a message still beats a 500.
    return str(_CHAR["invalid"])


def _by_item(errors, batch) -> dict:
    """pydantic's flat error list in DRF's shape: {index: {field: [messages]}}."""
    found: dict[int, dict[str, list[str]]] = {}
    unknown: dict[int, list[str]] = {}
    for error in errors:
        index, *field = error["loc"]
        if not field:  # the item itself is not an object
            message = serializers.Serializer.default_error_messages["invalid"]
            found[index] = {"non_field_errors": [message.format(datatype=type(batch[index]).__name__)]}
        elif error["type"] == "extra_forbidden":
            unknown.setdefault(index, []).append(str(field[0]))
        else:
            found.setdefault(index, {}).setdefault(field[0], []).append(_message(error))
    # As DRF's serializers do: unknown fields are named only when the known ones are sound,
    # the first 20 in order, each name cut to 100 characters.
    for index, names in unknown.items():
        if index not in found:
            found[index] = {name[:100]: [str(_("Unknown field."))] for name in sorted(names)[:20]}
    return dict(sorted(found.items()))


def request_schema() -> dict:
    """The OpenAPI schema of the endpoint's body: one mention, or a batch of up to 1,000."""
    item = TypeAdapter(MentionItem).json_schema()
    item.pop("title", None)
    for field in item["properties"].values():
        field.pop("title", None)
    for name, default in DEFAULTS.items():
        item["properties"][name].setdefault("default", default)
    return {"oneOf": [item, {"type": "array", "items": item, "maxItems": MENTION_BATCH_MAX}]}
