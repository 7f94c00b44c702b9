"""Serializer bases of the API: outputs from models, inputs that refuse unknown fields, free text."""

from collections.abc import Mapping

from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from .text import free_text, is_unsafe


class ModelOutput(serializers.ModelSerializer):
    """A ModelSerializer for output (read-only fields named in Meta)."""


class FreeText(serializers.CharField):
    """
    Free text people write (titles, descriptions, comments, mention text, author names).

    A lone surrogate becomes U+FFFD and NUL is dropped before any other check (so blank
    and length are judged on what is kept), instead of DRF's 400: one broken emoji in a
    batch of mentions must not lose the batch (API.md, "Conventions"; `api.text`).
    """

    def run_validation(self, data=empty):
        if isinstance(data, str):
            data = free_text(data)
        return super().run_validation(data)


def _refusals(field, value) -> list[str]:
    """DRF's messages for NUL or a lone surrogate in a value that is not free text."""
    # Free text is cleaned, not refused; a nested serializer checks its own fields.
    if isinstance(field, FreeText | serializers.BaseSerializer) or isinstance(
        getattr(field, "child", None), FreeText
    ):
        return []
    if isinstance(value, str):
        texts = [value]
    elif isinstance(value, list):
        texts = [item for item in value if isinstance(item, str)]
    else:
        return []
    for text in texts:
        if is_unsafe(text):
            if "\x00" in text:
                return [str(ProhibitNullCharactersValidator.message)]
            try:
                ProhibitSurrogateCharactersValidator()(text)
            except serializers.ValidationError as error:
                return [str(message) for message in error.detail]
    return []


class StrictInput(serializers.Serializer):
    """
    An input serializer that refuses fields it does not know (a typo must not pass silently).

    NUL and lone surrogates are refused here in every field that is not `FreeText` (choices,
    slugs, custom fields that would otherwise look them up in the database), named by field.
    """

    def to_internal_value(self, data):
        refused = {}
        if isinstance(data, Mapping):
            refused = {
                name: messages
                for name, field in self.fields.items()
                if name in data and not field.read_only and (messages := _refusals(field, data[name]))
            }
            if refused:
                data = {name: value for name, value in data.items() if name not in refused}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if refused and isinstance(error.detail, Mapping):
                raise serializers.ValidationError({**error.detail, **refused}) from None
            raise
        if refused:
            raise serializers.ValidationError(refused)
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        if unknown:
            raise serializers.ValidationError({name[:100]: [_("Unknown field.")] for name in unknown[:20]})
        return value
