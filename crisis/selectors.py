"""Reads of brands and their invitations, scoped to the caller; a person's own settings."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from api.errors import Forbidden, NotFound

from . import timezones
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


@dataclass(frozen=True)
class ViewerSettings:
    """A person's chosen language and time zone ("": not chosen) and the zones of their brands."""

    language: str
    time_zone: str
    brand_zones: dict[int, str]

    def zone_name(self, brand: Brand | None = None) -> str:
        """
        The zone a page shows times in: the person's own; else, on a brand's page, the
        brand's; else (a page across brands: the queue) the zone all their brands share;
        else UTC.
        """
        if self.time_zone:
            return self.time_zone
        if brand is not None:
            return brand.time_zone
        zones = set(self.brand_zones.values())
        return zones.pop() if len(zones) == 1 else timezones.DEFAULT


def viewer_settings(user) -> ViewerSettings:
    """
    `user`'s settings and their brands' zones, in one query.

    The same rows carry the user's roles, so they are handed to `Principal.for_user`,
    which would otherwise ask for them again on the same request.
    """
    rows = list(
        get_user_model()
        .objects.filter(pk=user.pk)
        .values_list(
            "desk_profile__language",
            "desk_profile__time_zone",
            "memberships__brand_id",
            "memberships__role",
            "memberships__brand__time_zone",
        )
    )
    members = [(brand_id, role, zone) for _lang, _zone, brand_id, role, zone in rows if brand_id is not None]
    Principal.remember_roles(user, {brand_id: role for brand_id, role, _zone in members})
    language, time_zone = (rows[0][0] or "", rows[0][1] or "") if rows else ("", "")
    return ViewerSettings(
        language=language,
        time_zone=time_zone,
        brand_zones={brand_id: zone for brand_id, _role, zone in members},
    )
