"""A plain `ModelSerializer` + `CreateAPIView`: the project's default authentication and permissions."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import generics, serializers

from crisis.models import Brand

from .models import BareIncident

# Fixed offsets stand in for the SLA lookup (medium: 1 h to acknowledge, 3 days to resolve).
ACK_AFTER = timedelta(hours=1)
RESOLVE_AFTER = timedelta(days=3)


class BareIncidentSerializer(serializers.ModelSerializer):
    brand = serializers.SlugRelatedField(slug_field="slug", queryset=Brand.objects.all())

    class Meta:
        model = BareIncident
        fields = [
            "id",
            "brand",
            "title",
            "description",
            "category",
            "severity",
            "channel",
            "source_url",
            "reach",
            "dedup_key",
            "duplicate_count",
            "state",
            "assignee",
            "reported_by_user",
            "detected_at",
            "created_at",
            "acknowledged_at",
            "investigated_at",
            "resolved_at",
            "reviewed_at",
            "ack_due_at",
            "resolve_due_at",
            "escalation_level",
            "resolution",
            "review_notes",
        ]
        read_only_fields = [
            "id",
            "duplicate_count",
            "state",
            "assignee",
            "reported_by_user",
            "created_at",
            "acknowledged_at",
            "investigated_at",
            "resolved_at",
            "reviewed_at",
            "ack_due_at",
            "resolve_due_at",
            "escalation_level",
            "resolution",
            "review_notes",
        ]


class BareIncidentCreate(generics.CreateAPIView):
    queryset = BareIncident.objects.all()
    serializer_class = BareIncidentSerializer

    def perform_create(self, serializer):
        now = timezone.now()
        detected_at = serializer.validated_data.get("detected_at") or now
        serializer.save(
            reported_by_user=self.request.user,
            created_at=now,
            detected_at=detected_at,
            ack_due_at=detected_at + ACK_AFTER,
            resolve_due_at=detected_at + RESOLVE_AFTER,
        )
