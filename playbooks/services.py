"""Choosing a playbook, copying it onto an incident, and the only writers of playbooks and templates."""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from api.errors import Forbidden
from crisis.models import Brand, Role
from crisis.tenancy import Principal

from .models import ChecklistStep, Playbook, PlaybookStep, ResponseTemplate


def playbooks_visible_to(principal: Principal) -> QuerySet[Playbook]:
    """Shared playbooks and those of the caller's brands."""
    return Playbook.objects.visible_to(principal)


def templates_visible_to(principal: Principal) -> QuerySet[ResponseTemplate]:
    """Shared templates and those of the caller's brands."""
    return ResponseTemplate.objects.visible_to(principal)


def playbook_for(*, brand: Brand, category: str, severity: str) -> Playbook | None:
    """
    The playbook a new incident gets: the brand's own for the category over a
    shared one; among several, one naming the severity over one for all; a
    shared one in the brand's language over English.
    """
    # The brand's own and the shared ones.
    playbooks = Playbook.objects.for_brands([brand.pk]).filter(category=category)
    candidates = [p for p in playbooks.order_by("-updated_at", "-id") if p.applies_to(severity)]

    def rank(p: Playbook):
        return (p.brand_id is None, not p.severities, p.language != brand.language, p.language != "en")

    return min(candidates, key=rank, default=None)


def checklist_from(
    playbook: Playbook, *, incident, detected_at: datetime, first_position: int = 0, steps=None
) -> list[ChecklistStep]:
    """Unsaved checklist steps copied from `playbook` (or its `steps` if given), due from `detected_at`."""
    return [
        ChecklistStep(
            incident=incident,
            playbook=playbook,
            position=first_position + i,
            title=s.title,
            description=s.description,
            role=s.role,
            required=s.required,
            due_at=detected_at + timedelta(seconds=s.due_after_seconds),
        )
        for i, s in enumerate(steps if steps is not None else playbook.steps.order_by("position", "id"))
    ]


def _require_writer(principal: Principal, brand: Brand | None) -> None:
    if brand is None:
        if not principal.is_superuser:
            raise Forbidden(_("Only superusers change shared playbooks and templates."))
    elif not principal.has_role(brand.pk, Role.MANAGER):
        raise Forbidden(_("Only the brand's managers change its playbooks and templates."))


@transaction.atomic
def playbook_save(
    *,
    principal: Principal,
    playbook: Playbook | None,
    brand: Brand | None,
    name: str,
    category: str,
    severities: list[str],
    language: str,
    steps: list[dict],
) -> Playbook:
    """Create or replace a playbook with its steps. Checklists already attached keep their copy."""
    if playbook is not None:
        _require_writer(principal, playbook.brand)
    _require_writer(principal, brand)
    if playbook is None:
        playbook = Playbook(brand=brand)
    playbook.brand, playbook.name, playbook.category = brand, name, category
    playbook.severities, playbook.language = severities, language
    playbook.save()
    playbook.steps.all().delete()
    PlaybookStep.objects.bulk_create(
        PlaybookStep(playbook=playbook, position=i, **step) for i, step in enumerate(steps)
    )
    return playbook


def playbook_delete(*, principal: Principal, playbook: Playbook) -> None:
    _require_writer(principal, playbook.brand)
    playbook.delete()


def template_save(
    *, principal: Principal, template: ResponseTemplate | None, brand: Brand | None, **fields
) -> ResponseTemplate:
    if template is not None:
        _require_writer(principal, template.brand)
    _require_writer(principal, brand)
    template = template or ResponseTemplate()
    template.brand = brand
    for name, value in fields.items():
        setattr(template, name, value)
    template.save()
    return template


def template_delete(*, principal: Principal, template: ResponseTemplate) -> None:
    _require_writer(principal, template.brand)
    template.delete()
