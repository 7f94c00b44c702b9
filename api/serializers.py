"""Serializer bases of the API: outputs from models, inputs that refuse unknown fields."""

import copy

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class FieldsBuiltOnce:
    """
    A serializer whose fields are built once per class; each instance gets copies.

    DRF builds every field again for every serializer instance: a ModelSerializer
    introspects the model (a filed incident's answer spent ~0.5 ms there), a plain
    Serializer deep-copies its declared fields, which constructs each again from its
    arguments (choices and all). Here the built, unbound fields are kept on the class
    and each instance gets shallow copies: a field keeps its per-instance state (name,
    parent, source) in attributes that `bind()` sets on the copy, and reads its
    choices and format without changing them; its validators and error messages are
    copied (one list, one dict), so that code changing them on an instance changes no
    other, as with DRF. A field with children (a nested serializer, a list or dict
    field, a many-related field, a custom field holding fields) binds the children to
    itself, and a mutable default could be changed by whoever receives it: those are
    deep-copied, as DRF does. Only for serializers whose fields do not depend on the
    instance or the context (their values may: they are read at run time).
    """

    def get_fields(self):
        # One attribute holding both the fields and the copy to make of each, so that
        # a thread never sees one without the other; a race builds it twice: harmless.
        templates = type(self).__dict__.get("_field_templates")
        if templates is None:
            templates = {
                name: (field, _needs_deep_copy(field)) for name, field in super().get_fields().items()
            }
            type(self)._field_templates = templates
        return {
            name: copy.deepcopy(field) if deep else _leaf_copy(field)
            for name, (field, deep) in templates.items()
        }


def _leaf_copy(field: serializers.Field) -> serializers.Field:
    field = copy.copy(field)
    if "_validators" in vars(field):
        field._validators = list(field._validators)
    field.error_messages = dict(field.error_messages)
    return field


def _needs_deep_copy(field: serializers.Field) -> bool:
    # Nested serializers, any field holding another field (DRF's list, dict and
    # many-related fields, or a custom field wrapping one or several under any
    # attribute name, directly or in a list, tuple or dict), or a default that is a
    # mutable container.
    def holds_a_field(value) -> bool:
        if isinstance(value, serializers.Field):
            return True
        if isinstance(value, dict):
            value = value.values()
        return isinstance(value, (list, tuple, type({}.values()))) and any(
            isinstance(item, serializers.Field) for item in value
        )

    return (
        isinstance(field, serializers.BaseSerializer)
        or isinstance(getattr(field, "default", None), (list, dict, set))
        or any(holds_a_field(value) for value in vars(field).values())
    )


class ModelOutput(FieldsBuiltOnce, serializers.ModelSerializer):
    """A ModelSerializer for output, its fields built from the model once per class."""


class StrictInput(FieldsBuiltOnce, serializers.Serializer):
    """An input serializer that refuses fields it does not know (a typo must not pass silently)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        if unknown:
            raise serializers.ValidationError({name[:100]: [_("Unknown field.")] for name in unknown[:20]})
        return value
