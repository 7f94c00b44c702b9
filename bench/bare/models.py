"""`BareIncident`: the columns of `incidents.Incident`, as plain fields, no constraints beyond the FKs."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from crisis.models import Brand, BrandKey


class BareIncident(models.Model):
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=32, default="other")
    severity = models.CharField(max_length=16, default="medium")
    channel = models.CharField(max_length=16, blank=True)
    source_url = models.URLField(max_length=2000, blank=True)
    reach = models.PositiveBigIntegerField(default=0)
    dedup_key = models.CharField(max_length=255, blank=True)
    duplicate_count = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=16, default="detected")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reported_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reported_by_key = models.ForeignKey(
        BrandKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detected_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    investigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    ack_due_at = models.DateTimeField()
    resolve_due_at = models.DateTimeField()
    escalation_level = models.PositiveSmallIntegerField(default=0)
    resolution = models.TextField(blank=True)
    review_notes = models.JSONField(null=True, blank=True)
    escalation_chain = models.JSONField(default=dict, blank=True)
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    sla_warning_at = models.DateTimeField(null=True, blank=True)
    resolve_escalation_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"
