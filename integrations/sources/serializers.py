"""Input and output of `…/brands/{slug}/sources/` (API.md, "Integrations"): credentials go in, never out."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from api.serializers import StrictInput

from .models import Source, SourceKind, SourceStatus


class SourceInput(StrictInput):
    kind = serializers.ChoiceField(choices=SourceKind.choices)
    name = serializers.CharField(max_length=100)
    query = serializers.CharField(
        max_length=2000,
        help_text=_("Brand Analytics: the theme id; Talkwalker: the collector id; JSON feed: its URL."),
    )
    credentials = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        write_only=True,
        style={"input_type": "password"},
        help_text=_("The tool's API token. Write-only: stored encrypted, never shown again."),
    )
    interval_seconds = serializers.IntegerField(min_value=1, max_value=10**9, required=False, default=300)
    enabled = serializers.BooleanField(required=False, default=True)


class SourceChange(SourceInput):
    """PATCH: any of the fields; absent ones stay as they are (credentials too)."""

    kind = serializers.ChoiceField(choices=SourceKind.choices, required=False)
    name = serializers.CharField(max_length=100, required=False)
    query = serializers.CharField(max_length=2000, required=False)
    interval_seconds = serializers.IntegerField(min_value=1, max_value=10**9, required=False)
    enabled = serializers.BooleanField(required=False)


class SourceOutput(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=SourceStatus.choices, read_only=True)
    has_credentials = serializers.BooleanField(read_only=True)

    class Meta:
        model = Source
        # Not `credentials`: it never leaves the desk, not even sealed.
        fields = [
            "id",
            "kind",
            "name",
            "query",
            "interval_seconds",
            "enabled",
            "has_credentials",
            "status",
            "next_poll_at",
            "last_polled_at",
            "last_success_at",
            "last_cursor",
            "last_error",
            "last_error_at",
            "failures",
            "mentions_received",
            "mentions_skipped",
            "created_at",
        ]
        read_only_fields = fields
