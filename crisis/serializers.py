"""Input and output shapes of the brands, members, invitations, keys and auth endpoints."""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from api.serializers import StrictInput

from . import shifts, timezones
from .models import (
    Brand,
    BrandKey,
    DetectionPolicy,
    Invitation,
    Membership,
    Role,
    Schedule,
    ScheduleOverride,
)


class LoginInput(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField(allow_null=True)


class TimeZoneField(serializers.CharField):
    """An IANA time zone name (`crisis.timezones`); with `allow_blank`, "" means not chosen."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("help_text", "An IANA time zone name, e.g. Europe/Moscow or UTC.")
        super().__init__(**kwargs)
        self.validators.append(timezones.validate_time_zone)


class BrandOutput(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Brand
        fields = ["slug", "name", "language", "time_zone", "created_at", "role"]

    def get_role(self, brand) -> str | None:
        principal = self.context.get("principal")
        return principal.role_in(brand.pk) if principal else None


class BrandInput(serializers.Serializer):
    slug = serializers.SlugField(max_length=50)
    name = serializers.CharField(max_length=200)
    language = serializers.ChoiceField(choices=settings.LANGUAGES, default="en")
    time_zone = TimeZoneField(default=timezones.DEFAULT)

    def validate_slug(self, value):
        if Brand.objects.filter(slug=value).exists():
            raise serializers.ValidationError(_("A brand with this slug already exists."))
        return value


class BrandUpdateInput(StrictInput):
    """`PATCH /brands/{slug}/`: any of these (managers)."""

    name = serializers.CharField(max_length=200, required=False)
    language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False)
    time_zone = TimeZoneField(required=False)


class MeOutput(serializers.Serializer):
    """The caller's own account and settings; `language` and `time_zone` empty: not chosen."""

    username = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)
    language = serializers.CharField(allow_blank=True)
    time_zone = serializers.CharField(allow_blank=True)


class MeInput(StrictInput):
    """`PATCH /me/`: the username is the one thing a person cannot change here."""

    email = serializers.EmailField(max_length=254, allow_blank=True, required=False)
    language = serializers.ChoiceField(choices=settings.LANGUAGES, allow_blank=True, required=False)
    time_zone = TimeZoneField(allow_blank=True, required=False)

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:
            # Not an unknown field: the answer of GET names it. Say why it is refused.
            if isinstance(error.detail, dict) and "username" in error.detail:
                error.detail["username"] = [ErrorDetail(_("A username cannot be changed."), code="read_only")]
            raise


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


class InvitationInput(StrictInput):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices)
    is_executive = serializers.BooleanField(required=False, default=False)


class InvitationOutput(serializers.ModelSerializer):
    """A pending invitation, for the brand's managers: the address they typed, never the token."""

    invited_by = serializers.CharField(source="invited_by.username", allow_null=True, default=None)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "is_executive", "invited_by", "created_at", "expires_at"]


class KeyInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class KeyOutput(serializers.ModelSerializer):
    class Meta:
        model = BrandKey
        fields = ["id", "name", "prefix", "created_at"]


class IssuedKeyOutput(KeyOutput):
    """The one response that carries the plain key (and its routing key, for PagerDuty-style senders)."""

    key = serializers.CharField()
    routing_key = serializers.CharField()

    class Meta(KeyOutput.Meta):
        fields = [*KeyOutput.Meta.fields, "key", "routing_key"]


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


# --- On-call schedules (API.md, "On-call schedules") -----------------------------------

# Instants a schedule takes or is asked about: far enough either way for any real
# rotation, near enough that no hand-off maths leaves the calendar.
EARLIEST_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(2100, 1, 1, tzinfo=UTC)
MAX_SHIFTS_SPAN = timedelta(days=93)
CLOCK_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]\Z"


class Instant(serializers.DateTimeField):
    """An ISO 8601 instant between 2000 and 2100."""

    def to_internal_value(self, value):
        value = super().to_internal_value(value)
        if not EARLIEST_INSTANT <= value < LATEST_INSTANT:
            raise serializers.ValidationError(_("Must be between the years 2000 and 2099."))
        return value


class RestrictionInput(StrictInput):
    """`{"days": ["mon", …], "from": "HH:MM", "to": "HH:MM"}`, local; `to` <= `from` runs past midnight."""

    days = serializers.ListField(
        child=serializers.ChoiceField(choices=shifts.DAYS), min_length=1, max_length=7
    )
    # "from" is a Python keyword: the field is declared through the class namespace.
    vars()["from"] = serializers.RegexField(
        CLOCK_TIME, error_messages={"invalid": _("A time of day as HH:MM, from 00:00 to 23:59.")}
    )
    to = serializers.RegexField(
        CLOCK_TIME, error_messages={"invalid": _("A time of day as HH:MM, from 00:00 to 23:59.")}
    )

    def validate_days(self, value):
        if len(set(value)) != len(value):
            raise serializers.ValidationError(_("Each day at most once."))
        return sorted(value, key=shifts.DAYS.index)


class ShiftLengthInput(StrictInput):
    every = serializers.IntegerField(min_value=1, max_value=1000)
    unit = serializers.ChoiceField(choices=shifts.UNITS)


class LayerInput(StrictInput):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    users = serializers.ListField(
        child=serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150), max_length=50
    )
    start = Instant(help_text="The first hand-off (an ISO instant).")
    shift = ShiftLengthInput()
    restrictions = RestrictionInput(many=True, required=False, default=list, max_length=14)


class ScheduleInput(StrictInput):
    name = serializers.CharField(max_length=100)
    time_zone = TimeZoneField()
    layers = LayerInput(many=True, allow_empty=False, max_length=10)


class RestrictionOutput(serializers.Serializer):
    days = serializers.ListField(child=serializers.CharField())
    vars()["from"] = serializers.CharField()
    to = serializers.CharField()


class ShiftLengthOutput(serializers.Serializer):
    every = serializers.IntegerField(source="shift_every")
    unit = serializers.CharField(source="shift_unit")


class LayerOutput(serializers.Serializer):
    name = serializers.CharField()
    users = serializers.SerializerMethodField()
    start = serializers.DateTimeField()
    shift = ShiftLengthOutput(source="*")
    restrictions = RestrictionOutput(many=True)

    def get_users(self, layer) -> list[str]:
        return [place.user.get_username() for place in layer.members.all()]


class OverrideOutput(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username")
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)

    class Meta:
        model = ScheduleOverride
        fields = ["id", "user", "start", "end", "created_by", "created_at"]


class ScheduleOutput(serializers.ModelSerializer):
    """A schedule, its layers, and its overrides that have not ended."""

    layers = LayerOutput(many=True)
    overrides = OverrideOutput(many=True)

    class Meta:
        model = Schedule
        fields = ["id", "name", "time_zone", "layers", "overrides", "created_at", "updated_at"]


class OverrideInput(StrictInput):
    user = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    start = Instant()
    end = Instant()


class OnCallQuery(StrictInput):
    at = Instant(required=False, help_text="The instant asked about; default now.")


class OnCallOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    users = serializers.ListField(child=serializers.CharField())


class ShiftsQuery(StrictInput):
    since = Instant(required=False, help_text="Default: now.")
    until = Instant(required=False, help_text="Default: 14 days after `since`; at most 93 days after it.")

    def validate(self, attrs):
        since = attrs.get("since") or self.context["now"]
        until = attrs.get("until") or since + timedelta(days=14)
        if until <= since:
            raise serializers.ValidationError({"until": [_("Must come after `since`.")]})
        if until - since > MAX_SHIFTS_SPAN:
            raise serializers.ValidationError({"until": [_("At most 93 days after `since`.")]})
        return {"since": since, "until": until}


class ShiftOutput(serializers.Serializer):
    user = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    layer = serializers.IntegerField(allow_null=True, help_text="1-based; null: an override")
    override = serializers.IntegerField(allow_null=True, help_text="The override's id, or null")


class ShiftsOutput(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    time_zone = serializers.CharField()
    shifts = ShiftOutput(many=True)


class CalendarTokenOutput(serializers.Serializer):
    token = serializers.CharField()
    url = serializers.CharField(help_text="The person's own feed, ready for a calendar app.")


class CalendarFeedQuery(StrictInput):
    token = serializers.CharField(max_length=200)
