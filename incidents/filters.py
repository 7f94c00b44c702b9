"""
Query-string filters of the incident list (API.md), for the API and the console alike.

Every bad value is a form error: the API answers it with a 400 naming the
parameter, the console ignores that filter and says why. Nothing reaches the
database unparsed (a NUL byte is refused by the form fields themselves).
"""

import re
from datetime import UTC

import django_filters
from django import forms
from django.db import connections
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters.fields import BaseCSVField, IsoDateTimeField

from crisis.tenancy import Principal

from .models import Category, Channel, Incident, Severity, State


class UtcDateTimeField(IsoDateTimeField):
    """
    An ISO 8601 instant, handed to the database in UTC.

    Python takes offsets up to ±23:59 and years up to 9999 in any offset; PostgreSQL
    refuses offsets beyond ±15:59 (a 500), and a year-9999 time ahead of UTC does not
    exist in UTC. Converting here turns both into the form error every bad value gets.
    """

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class StateListField(forms.CharField):
    """Comma-separated states; an unknown one is an error naming it."""

    def clean(self, value):
        value = super().clean(value)
        states = [s.strip() for s in (value or "").split(",") if s.strip()]
        unknown = [s for s in states if s not in State.values]
        if unknown:
            raise forms.ValidationError(_("Unknown state: %s") % ", ".join(unknown)[:200])
        return states


class StateListFilter(django_filters.Filter):
    field_class = StateListField


class NoEmptyItemsCSVField(BaseCSVField):
    """A comma-separated list whose every item names something: `severity,` is refused, not read as one."""

    def clean(self, value):
        if value and "" in value:
            raise forms.ValidationError(_("An empty item between commas; name one of the choices."))
        return super().clean(value)


class StableOrderingFilter(django_filters.OrderingFilter):
    """`ordering` with the id as the last key, so that pages of equal values never repeat or skip a row."""

    base_field_class = NoEmptyItemsCSVField

    def filter(self, qs, value):
        qs = super().filter(qs, value)
        return qs.order_by(*qs.query.order_by, "-id") if value else qs


class IncidentFilter(django_filters.FilterSet):
    state = StateListFilter(
        field_name="state", lookup_expr="in", max_length=500, help_text="Comma-separated states."
    )
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    category = django_filters.ChoiceFilter(choices=Category.choices)
    brand = django_filters.CharFilter(field_name="brand__slug", max_length=50)
    assignee = django_filters.CharFilter(
        method="filter_assignee", max_length=150, help_text="A username, `me` or `none`."
    )
    breached = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_breached",
        help_text="Ack deadline passed unacknowledged, or acknowledged late.",
    )
    channel = django_filters.ChoiceFilter(choices=Channel.choices)
    # [since, until), as the reports count.
    detected_since = UtcDateTimeFilter(field_name="detected_at", lookup_expr="gte")
    detected_until = UtcDateTimeFilter(field_name="detected_at", lookup_expr="lt")
    q = django_filters.CharFilter(
        method="filter_text", max_length=200, help_text="Text in the title or description."
    )
    ordering = StableOrderingFilter(
        fields=(("ack_due_at", "ack_due_at"), ("created_at", "created_at"), ("severity_rank", "severity")),
    )

    class Meta:
        model = Incident
        fields = []

    def filter_assignee(self, queryset, name, value):
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value == "me":
            user_id = Principal.from_request(self.request).user_id
            return queryset.filter(assignee_id=user_id) if user_id else queryset.none()
        return queryset.filter(assignee__username=value)

    def filter_breached(self, queryset, name, value):
        # The application's clock, as `ack_breached` in the output uses, not the database's.
        breached = Q(acknowledged_at__isnull=True, ack_due_at__lt=timezone.now()) | Q(
            acknowledged_at__gt=F("ack_due_at")
        )
        return queryset.filter(breached) if value == "true" else queryset.exclude(breached)

    def filter_text(self, queryset, name, value):
        # "Case-insensitive, the same on PostgreSQL and SQLite" (API.md): SQLite's LIKE folds
        # ASCII only, so "отзыв" would miss "Отзыв" there. Its REGEXP is Django's Python
        # function, where (?i) folds every script as PostgreSQL's UPPER does; the escaped
        # text is a literal, so nothing the caller types is read as a pattern.
        if connections[queryset.db].vendor == "sqlite":
            pattern = re.escape(value)
            return queryset.filter(Q(title__iregex=pattern) | Q(description__iregex=pattern))
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))
