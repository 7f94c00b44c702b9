"""Serializer bases of the API: outputs from models, inputs that refuse unknown fields."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class ModelOutput(serializers.ModelSerializer):
    """A ModelSerializer for output (read-only fields named in Meta)."""


class StrictInput(serializers.Serializer):
    """An input serializer that refuses fields it does not know (a typo must not pass silently)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        if unknown:
            raise serializers.ValidationError({name[:100]: [_("Unknown field.")] for name in unknown[:20]})
        return value
