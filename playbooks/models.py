"""
Playbooks (what to do for a kind of crisis), the checklist copied from one onto
an incident, and response templates.

A checklist is a copy, not a reference: editing a playbook later must not
change what a responder was told to do during a crisis that already happened.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crisis.models import Brand, Category
from crisis.tenancy import TenantManager

# Who a step is for: the brand roles that work incidents, and executives (key communicators).
STEP_ROLES = [("responder", _("Responder")), ("manager", _("Manager")), ("executive", _("Executive"))]


class Playbook(models.Model):
    """What to do for one category of crisis: shared (brand is null) or a brand's own."""

    brand = models.ForeignKey(
        Brand, null=True, blank=True, on_delete=models.CASCADE, related_name="playbooks"
    )
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    # Severities it applies to; empty means all.
    severities = models.JSONField(_("severities"), default=list, blank=True)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="en")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    # A shared playbook (no brand) is every brand's.
    objects = TenantManager(shared=True)
    all_brands = models.Manager()

    class Meta:
        ordering = ["category", "name", "id"]
        indexes = [models.Index(fields=["category", "brand"], name="playbook_category_brand")]
        verbose_name = _("playbook")
        verbose_name_plural = _("playbooks")

    def __str__(self) -> str:
        return self.name

    def applies_to(self, severity: str) -> bool:
        return not self.severities or severity in self.severities


class PlaybookStep(models.Model):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    role = models.CharField(_("role"), max_length=16, choices=STEP_ROLES, default="responder")
    # Counted from the incident's detected_at, like every other deadline.
    due_after_seconds = models.PositiveIntegerField(_("due after (seconds)"), default=3600)
    required = models.BooleanField(_("required"), default=True)

    objects = TenantManager("playbook__brand", shared=True)
    all_brands = models.Manager()

    class Meta:
        ordering = ["playbook", "position", "id"]
        verbose_name = _("playbook step")
        verbose_name_plural = _("playbook steps")

    def __str__(self) -> str:
        return self.title


class ChecklistStep(models.Model):
    """One step of an incident's checklist, copied from a playbook when it was attached."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="checklist")
    playbook = models.ForeignKey(Playbook, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    role = models.CharField(max_length=16, choices=STEP_ROLES, default="responder")
    required = models.BooleanField(default=True)
    due_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    # Set when the overdue reminder went out; the clock sends one per step.
    reminded_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager("incident__brand")
    all_brands = models.Manager()

    class Meta:
        ordering = ["incident", "position", "id"]
        indexes = [
            # The clock's query: open steps past due that nobody was reminded of yet.
            models.Index(
                fields=["due_at"],
                name="checklist_reminder_due",
                condition=Q(completed_at__isnull=True, reminded_at__isnull=True),
            ),
        ]
        verbose_name = _("checklist step")
        verbose_name_plural = _("checklist steps")

    def __str__(self) -> str:
        return self.title


class ResponseTemplate(models.Model):
    """
    A reply skeleton with `{placeholder}` names, per category and language.

    A starting point for a personal answer, never a copy-paste: the rendered
    text is meant to be edited before it is posted.
    """

    brand = models.ForeignKey(
        Brand, null=True, blank=True, on_delete=models.CASCADE, related_name="response_templates"
    )
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    body = models.TextField(_("body"))
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    # A shared template (no brand) is every brand's.
    objects = TenantManager(shared=True)
    all_brands = models.Manager()

    class Meta:
        ordering = ["category", "language", "name", "id"]
        verbose_name = _("response template")
        verbose_name_plural = _("response templates")

    def __str__(self) -> str:
        return self.name
