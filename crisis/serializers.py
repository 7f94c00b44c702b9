"""Input and output shapes of the brands, members, keys and auth endpoints."""

import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from api.serializers import StrictInput

from .models import Brand, BrandKey, Category, Channel, DetectionPolicy, Membership, Role, Sentiment


class LoginInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField(allow_null=True)


class BrandOutput(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Brand
        fields = ["slug", "name", "language", "created_at", "role"]

    def get_role(self, brand) -> str | None:
        principal = self.context.get("principal")
        return principal.role_in(brand.pk) if principal else None


class BrandInput(serializers.Serializer):
    slug = serializers.SlugField(max_length=50)
    name = serializers.CharField(max_length=200)
    language = serializers.ChoiceField(choices=settings.LANGUAGES, default="en")

    def validate_slug(self, value):
        if Brand.objects.filter(slug=value).exists():
            raise serializers.ValidationError(_("A brand with this slug already exists."))
        return value


class MemberOutput(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")
    email = serializers.EmailField(source="user.email")

    class Meta:
        model = Membership
        fields = ["username", "email", "role", "is_executive", "created_at"]


class MemberInput(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)
    is_executive = serializers.BooleanField(required=False, default=False)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    password = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=4096,
        trim_whitespace=False,
        write_only=True,
    )


class KeyInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class KeyOutput(serializers.ModelSerializer):
    class Meta:
        model = BrandKey
        fields = ["id", "name", "prefix", "created_at"]


class IssuedKeyOutput(KeyOutput):
    """The one response that carries the plain key."""

    key = serializers.CharField()

    class Meta(KeyOutput.Meta):
        fields = [*KeyOutput.Meta.fields, "key"]


MENTION_TEXT_MAX = 10_000
MENTION_BATCH_MAX = 1000
# A monitoring tool's clock may run a little ahead of ours; within this much, a time
# "in the future" is taken as now rather than refused.
CLOCK_SKEW = timedelta(seconds=30)
EARLIEST_REPORTED_AT = datetime(2000, 1, 1, tzinfo=UTC)


def reported_time(value: datetime, now: datetime) -> datetime:
    """A time a reporter gives (an incident detected, a mention published), as the desk keeps it."""
    if value > now + CLOCK_SKEW:
        raise serializers.ValidationError(_("Must not be in the future."))
    if value < EARLIEST_REPORTED_AT:
        raise serializers.ValidationError(_("Must not be before the year 2000."))
    return min(value, now)


class MentionInput(StrictInput):
    """One mention as a monitoring tool reports it."""

    brand = serializers.SlugField(max_length=50, required=False)
    external_id = serializers.CharField(max_length=255)
    platform = serializers.ChoiceField(choices=Channel.choices)
    url = serializers.URLField(max_length=2000, required=False, allow_blank=True, default="")
    author = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    author_followers = serializers.IntegerField(min_value=0, max_value=10**12, default=0)
    text = serializers.CharField(
        max_length=MENTION_TEXT_MAX, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    sentiment = serializers.ChoiceField(choices=Sentiment.choices)
    reach = serializers.IntegerField(min_value=0, max_value=10**15, default=0)
    published_at = serializers.DateTimeField()
    # Optional: attach to an incident directly, by id or by its dedup key.
    incident = serializers.IntegerField(min_value=1, max_value=2**62, required=False)
    dedup_key = serializers.CharField(max_length=255, required=False, allow_blank=True)
    category = serializers.ChoiceField(choices=Category.choices, required=False)

    def validate_published_at(self, value):
        return reported_time(value, timezone.now())


def validate_mention_batch(batch) -> list[dict]:
    """
    A batch of mentions, validated as `MentionInput(many=True)` would, or its 400.

    DRF's per-field machinery cost ~120 ms per 1,000 mentions, the larger part of a
    bulk intake. `_plain_mention` takes the common well-formed item in a fraction of
    that and answers exactly what `MentionInput` would (a differential test holds it
    to that); anything it is not sure of, and every error, goes to `MentionInput`,
    the one set of rules and messages.
    """
    if isinstance(batch, list) and len(batch) <= MENTION_BATCH_MAX:
        now = timezone.now()
        plain = [_plain_mention(item, now) for item in batch]
        if None not in plain:
            return plain
    data = MentionInput(data=batch, many=True, max_length=MENTION_BATCH_MAX)
    data.is_valid(raise_exception=True)
    return data.validated_data


_MENTION_FIELDS = frozenset(MentionInput._declared_fields)
_MENTION_REQUIRED = ("external_id", "platform", "sentiment", "published_at")
_CHANNELS, _SENTIMENTS, _CATEGORIES = (frozenset(c.values) for c in (Channel, Sentiment, Category))
# What DRF's CharField refuses in any text: NUL (ProhibitNullCharactersValidator) and
# lone surrogates (ProhibitSurrogateCharactersValidator, a character-by-character loop).
_UNSAFE_TEXT = re.compile("[\x00\ud800-\udfff]")
_SLUG = re.compile(r"[-a-zA-Z0-9_]+")
_URL = URLValidator()


def _plain_text(value, max_length: int, *, trim: bool = True, blank: bool = True) -> str | None:
    """What CharField(max_length, trim_whitespace=trim, allow_blank=blank) makes of a str; None: ask DRF."""
    if type(value) is not str:
        return None
    text = value.strip() if trim else value
    if not text:
        return "" if blank else None
    if len(text) > max_length or _UNSAFE_TEXT.search(text):
        return None
    return text


def _plain_choice(value, choices: frozenset) -> str | None:
    return value if type(value) is str and value in choices else None


def _plain_count(value, maximum: int) -> int | None:
    return value if type(value) is int and 0 <= value <= maximum else None


def _plain_mention(item, now: datetime) -> dict | None:
    """`MentionInput`'s validated data for a plain, valid item; None when DRF must decide."""
    if type(item) is not dict or not item.keys() <= _MENTION_FIELDS:
        return None
    if any(item.get(name) is None for name in _MENTION_REQUIRED):
        return None
    out = {
        "external_id": _plain_text(item["external_id"], 255, blank=False),
        "platform": _plain_choice(item["platform"], _CHANNELS),
        "sentiment": _plain_choice(item["sentiment"], _SENTIMENTS),
        "url": _plain_text(item.get("url", ""), 2000),
        "author": _plain_text(item.get("author", ""), 255),
        "text": _plain_text(item.get("text", ""), MENTION_TEXT_MAX, trim=False),
        "author_followers": _plain_count(item.get("author_followers", 0), 10**12),
        "reach": _plain_count(item.get("reach", 0), 10**15),
        "published_at": _plain_published_at(item["published_at"], now),
    }
    if "brand" in item:
        brand = _plain_text(item["brand"], 50, blank=False)
        out["brand"] = brand if brand and _SLUG.fullmatch(brand) else None
    if "incident" in item:
        incident = item["incident"]
        out["incident"] = incident if type(incident) is int and 1 <= incident <= 2**62 else None
    if "dedup_key" in item:
        out["dedup_key"] = _plain_text(item["dedup_key"], 255)
    if "category" in item:
        out["category"] = _plain_choice(item["category"], _CATEGORIES)
    if None in out.values():
        return None
    if out["url"]:
        try:
            _URL(out["url"])
        except DjangoValidationError:
            return None
    return out


def _plain_published_at(value, now: datetime) -> datetime | None:
    """An ISO 8601 string with an offset, as DateTimeField and validate_published_at keep it."""
    if type(value) is not str:
        return None
    try:
        parsed = parse_datetime(value)
        if parsed is None or parsed.tzinfo is None:
            return None  # naive times are made aware by DRF's rules: let it
        published = parsed.astimezone(timezone.get_current_timezone())
    except (ValueError, OverflowError):
        return None
    try:
        return reported_time(published, now)
    except serializers.ValidationError:
        return None


class DetectionPolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = DetectionPolicy
        fields = ["enabled", "window_seconds", "baseline_seconds", "min_count", "ratio", "follower_threshold"]
        extra_kwargs = {
            "window_seconds": {"min_value": 60, "max_value": 24 * 3600},
            "baseline_seconds": {"min_value": 3600, "max_value": 30 * 24 * 3600},
            "min_count": {"min_value": 1, "max_value": 100_000},
            "ratio": {"min_value": 1.0, "max_value": 1000.0},
            "follower_threshold": {"min_value": 1, "max_value": 10**12},
        }
