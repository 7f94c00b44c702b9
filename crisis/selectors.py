"""Reads of brands and their invitations, scoped to the caller."""

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from api.errors import Forbidden, NotFound

from .models import Brand, Invitation
from .tenancy import Principal


def brands_visible_to(principal: Principal) -> QuerySet[Brand]:
    ids = principal.brand_ids()
    if ids is None:
        return Brand.objects.all()
    return Brand.objects.filter(pk__in=ids)


def brand_for(principal: Principal, slug: str, *, minimum_role: str | None = None) -> Brand:
    """The brand `slug` if the caller may see it (else 404) and holds `minimum_role` (else 403)."""
    brand = brands_visible_to(principal).filter(slug=slug).first()
    if brand is None:
        raise NotFound()
    if minimum_role is not None and not principal.has_role(brand.pk, minimum_role):
        raise Forbidden(_("This action needs the %(role)s role in this brand.") % {"role": minimum_role})
    return brand


def invitations_pending(brand: Brand, *, now) -> QuerySet[Invitation]:
    """The brand's invitations that can still be accepted, newest first."""
    return brand.invitations.filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    ).select_related("invited_by")
