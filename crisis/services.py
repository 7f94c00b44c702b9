"""The only writers of brands, memberships and integration keys."""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from api.errors import Conflict, InvalidInput

from .models import Brand, BrandKey, DetectionPolicy, Membership, Role

User = get_user_model()


def brand_create(*, slug: str, name: str, language: str = "en") -> Brand:
    return Brand.objects.create(slug=slug, name=name, language=language)


@transaction.atomic
def membership_set(
    *,
    brand: Brand,
    username: str,
    role: str,
    is_executive: bool = False,
    email: str = "",
    password: str = "",
) -> tuple[Membership, bool]:
    """Give `username` a role in `brand`, creating the user if needed; returns (membership, created)."""
    user = User.objects.filter(username=username).first()
    if user is None:
        if password:
            try:
                validate_password(password, user=User(username=username, email=email))
            except DjangoValidationError as exc:
                raise InvalidInput(list(exc.messages), field="password") from None
        user = User(username=username, email=email)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    elif password or (email and email != user.email):
        # A brand manager must not be able to take over an account that other
        # brands share by resetting its password or address.
        raise InvalidInput(_("This user already exists; only the role can be set here."), field="username")
    membership = brand.memberships.select_for_update().filter(user=user).first()
    if membership is None:
        created = Membership.objects.create(brand=brand, user=user, role=role, is_executive=is_executive)
        return created, True
    if membership.role == Role.MANAGER and role != Role.MANAGER:
        _refuse_losing_last_manager(brand, membership)
    membership.role, membership.is_executive = role, is_executive
    membership.save(update_fields=["role", "is_executive"])
    return membership, False


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    if membership.role == Role.MANAGER:
        _refuse_losing_last_manager(membership.brand, membership)
    membership.delete()


def _refuse_losing_last_manager(brand: Brand, membership: Membership) -> None:
    managers = brand.memberships.select_for_update().filter(role=Role.MANAGER)
    if not managers.exclude(pk=membership.pk).exists():
        raise Conflict(_("A brand must keep at least one manager."))


def brand_key_issue(*, brand: Brand, name: str) -> tuple[BrandKey, str]:
    return BrandKey.issue(brand=brand, name=name)


def brand_key_revoke(*, key: BrandKey) -> None:
    BrandKey.objects.for_brands([key.brand_id]).filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def detection_policy_set(*, brand: Brand, **thresholds) -> DetectionPolicy:
    policy, _created = DetectionPolicy.objects.for_brands([brand.pk]).update_or_create(
        brand=brand, defaults=thresholds
    )
    return policy
