"""Writers of a brand's response settings: SLA targets and the escalation chain."""

from django.db import transaction

from crisis.models import Brand

from . import sla
from .models import EscalationPolicy, UpdatesPolicy


def escalation_policy_set(*, brand: Brand, chain: dict) -> None:
    """Replace the brand's chain; running incidents keep the snapshot they opened with."""
    EscalationPolicy.objects.for_brands([brand.pk]).update_or_create(brand=brand, defaults={"chain": chain})


def sla_policy_set(*, brand: Brand, targets: dict[str, sla.SlaTarget]) -> None:
    """Replace the brand's SLA targets; applies to incidents filed afterwards."""
    with transaction.atomic():
        for severity, target in targets.items():
            brand.sla_policies.update_or_create(
                severity=severity,
                defaults={"ack_seconds": target.ack_seconds, "resolve_seconds": target.resolve_seconds},
            )


def updates_policy_set(*, brand: Brand, cadence_seconds: dict, stakeholder_emails: list[str]) -> None:
    """
    Replace the brand's status-update policy. Incidents already claimed keep the beat they
    are on; the new cadence applies from their next update or severity change.
    """
    UpdatesPolicy.objects.for_brands([brand.pk]).update_or_create(
        brand=brand, defaults={"cadence_seconds": cadence_seconds, "stakeholder_emails": stakeholder_emails}
    )
