"""Query-string filters of the incident list (API.md): every bad value is a 400, never a 500."""

import django_filters
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError

from crisis.tenancy import Principal

from .models import Category, Incident, Severity, State


class IncidentFilter(django_filters.FilterSet):
    state = django_filters.CharFilter(method="filter_state", help_text="Comma-separated states.")
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
    q = django_filters.CharFilter(field_name="title", lookup_expr="icontains", max_length=200)
    ordering = django_filters.OrderingFilter(
        fields=(("ack_due_at", "ack_due_at"), ("created_at", "created_at"), ("severity_rank", "severity")),
    )

    class Meta:
        model = Incident
        fields = []

    def filter_state(self, queryset, name, value):
        states = [s.strip() for s in value.split(",") if s.strip()]
        unknown = [s for s in states if s not in State.values]
        if unknown:
            raise ValidationError({"state": [_("Unknown state: %s") % ", ".join(unknown)[:200]]})
        return queryset.filter(state__in=states)

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
