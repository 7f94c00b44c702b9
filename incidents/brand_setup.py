"""
What filing an incident reads about its brand, cached per process.

A new incident needs its brand's SLA targets, escalation chain and the playbook for
its category and severity with the playbook's steps: four queries on every filing,
for data that changes a few times a year. They are cached here per process, keyed
by the brand's `setup_version`. Every save or delete of an SLA policy, escalation
policy, playbook or playbook step bumps that number (the signal receivers below, in
the writer's own transaction), and filing reads the brand row anyway, so a process
knows its copy is stale with no extra query and never files with an old setup.

Writes that bypass model signals (`QuerySet.update()`, `bulk_create()` alone) must
bump the version themselves; `playbooks.services.playbook_save` saves the playbook
itself in the same transaction as its bulk-created steps, which is enough.
"""

import threading
from dataclasses import dataclass, field

from django.db.models import F
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from crisis.models import Brand
from playbooks import services as playbooks
from playbooks.models import Playbook, PlaybookStep

from . import selectors
from .models import EscalationPolicy, SlaPolicy
from .selectors import SlaTarget, sla_targets_for

MAX_CACHED_BRANDS = 10_000


@dataclass
class BrandSetup:
    sla: dict[str, SlaTarget]
    chain: dict
    # (category, severity) -> (playbook, its steps in order), filled on first use
    _playbooks: dict = field(default_factory=dict)

    def playbook(self, brand: Brand, category: str, severity: str):
        """The playbook a new incident gets and its steps, or (None, [])."""
        key = (category, severity)
        if key not in self._playbooks:
            playbook = playbooks.playbook_for(brand=brand, category=category, severity=severity)
            steps = list(playbook.steps.order_by("position", "id")) if playbook else []
            self._playbooks[key] = (playbook, steps)
        return self._playbooks[key]


_cache: dict[int, tuple[tuple, BrandSetup]] = {}
_lock = threading.Lock()


def brand_setup(brand: Brand) -> BrandSetup:
    """The brand's filing setup, from this process's cache when `brand` says it is current."""
    # created_at too: SQLite may give a deleted brand's id to a new one, at version 0 again.
    version = (brand.setup_version, brand.language, brand.created_at)
    cached = _cache.get(brand.pk)
    if cached is not None and cached[0] == version:
        return cached[1]
    setup = BrandSetup(sla=sla_targets_for(brand.pk), chain=selectors.chain_for(brand.pk))
    with _lock:
        if len(_cache) >= MAX_CACHED_BRANDS:
            _cache.clear()
        _cache[brand.pk] = (version, setup)
    return setup


def bump(brand_id: int | None) -> None:
    """Mark a brand's setup changed; None (a shared playbook) marks every brand's."""
    brands = Brand.objects.all() if brand_id is None else Brand.objects.filter(pk=brand_id)
    brands.update(setup_version=F("setup_version") + 1)
    # This process forgets its copy at once too: a caller here may still hold a Brand
    # read before the bump, whose old version would otherwise match the cache.
    with _lock:
        if brand_id is None:
            _cache.clear()
        else:
            _cache.pop(brand_id, None)


@receiver(pre_save, sender=SlaPolicy)
@receiver(pre_save, sender=EscalationPolicy)
@receiver(pre_save, sender=Playbook)
def _remember_brand(sender, instance, **kwargs):
    """A policy or playbook moved to another brand (or in or out of the shared ones)
    changes what its former brand files with too."""
    previous = (
        sender._base_manager.filter(pk=instance.pk).values_list("brand_id").first()
        if instance.pk is not None
        else None
    )
    instance._brand_before_save = previous


@receiver([post_save, post_delete], sender=SlaPolicy)
@receiver([post_save, post_delete], sender=EscalationPolicy)
@receiver([post_save, post_delete], sender=Playbook)
def _policy_changed(sender, instance, **kwargs):
    bump(instance.brand_id)
    previous = getattr(instance, "_brand_before_save", None)
    if previous is not None and previous[0] != instance.brand_id:
        bump(previous[0])


@receiver([post_save, post_delete], sender=PlaybookStep)
def _step_changed(sender, instance, **kwargs):
    # System: whichever brand the step's playbook is (none: shared), its setup changed.
    playbook = Playbook.all_brands.filter(pk=instance.playbook_id).values_list("brand_id").first()
    if playbook is not None:  # else its playbook is being deleted, which bumps on its own
        bump(playbook[0])
