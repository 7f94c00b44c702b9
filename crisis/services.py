"""The only writers of brands, memberships, invitations and integration keys."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from api.errors import Conflict, Forbidden, InvalidInput

from . import timezones
from .models import Brand, BrandKey, DetectionPolicy, Invitation, Membership, Profile, Role
from .selectors import invitations_pending
from .tenancy import Principal

User = get_user_model()

# A brand's manager can make the desk e-mail any address: this many pending
# invitations per brand at most, so that the desk cannot be used to send spam.
MAX_PENDING_INVITATIONS = 100

# The one answer a manager gets for any username that is not a member of the brand,
# whether or not such an account exists: the answer must not tell which.
NOT_A_MEMBER = gettext_lazy("Not a member of this brand: invite them by e-mail.")

INVITATION_PROBLEMS = {
    "accepted": gettext_lazy("This invitation has already been used."),
    "revoked": gettext_lazy("This invitation was withdrawn."),
    "expired": gettext_lazy("This invitation has expired; ask for a new one."),
}


class InvitationUnusable(Conflict):
    code = "invitation_unusable"


def brand_create(*, slug: str, name: str, language: str = "en", time_zone: str = timezones.DEFAULT) -> Brand:
    _check_time_zone(time_zone)
    return Brand.objects.create(slug=slug, name=name, language=language, time_zone=time_zone)


def _check_time_zone(name: str) -> None:
    try:
        timezones.validate_time_zone(name)
    except DjangoValidationError as exc:
        raise InvalidInput(exc.messages[0], field="time_zone") from None


def brand_update(*, brand: Brand, **fields) -> Brand:
    """Change a brand's `name`, `language` or `time_zone` (the caller has checked the manager's role)."""
    if "time_zone" in fields:
        _check_time_zone(fields["time_zone"])
    for name, value in fields.items():
        setattr(brand, name, value)
    if fields:
        brand.save(update_fields=list(fields))
    return brand


def profile_update(*, user, **fields) -> Profile:
    """
    Change a person's own `email`, `language` or `time_zone` (the last two: "" for not chosen).

    The profile row is made on the first change; a person without one has chosen nothing.
    """
    if fields.get("time_zone"):
        _check_time_zone(fields["time_zone"])
    if "email" in fields and fields["email"] != user.email:
        user.email = fields["email"]
        user.save(update_fields=["email"])
    chosen = {name: fields[name] for name in ("language", "time_zone") if name in fields}
    profile, _created = Profile.objects.update_or_create(user=user, defaults=chosen)
    return profile


def _lock_brand(brand: Brand) -> None:
    """
    Lock the brand's row: writes of its memberships and invitations queue here, one at a time.

    Every writer below takes this lock first, before any membership or invitation row,
    so two of them never wait on each other in opposite orders (a deadlock). Parallel
    adds of one person then run one after the other: the second finds the first's
    membership instead of failing on the unique constraint. (SQLite ignores FOR
    UPDATE; its IMMEDIATE transactions already let one writer in at a time.)
    """
    Brand.objects.select_for_update().only("pk").get(pk=brand.pk)


@transaction.atomic
def membership_set(
    *,
    brand: Brand,
    username: str,
    role: str,
    is_executive: bool = False,
    email: str = "",
    password: str = "",
    principal: Principal | None = None,
) -> tuple[Membership, bool]:
    """
    Give `username` a role in `brand`; returns (membership, created).

    A brand's manager may only change the role of people who are already members;
    everyone else joins by invitation. A superuser may also attach any account, or
    create one. `principal` None is a trusted caller with no request (a command, a
    benchmark's setup), which acts as a superuser.
    """
    _refuse_unless_manager(principal, brand)
    _lock_brand(brand)
    membership = brand.memberships.select_related("user").filter(user__username=username).first()
    if principal is not None and not principal.is_superuser:
        if membership is None:
            raise InvalidInput(str(NOT_A_MEMBER), field="username")
        if password or email:
            field = "password" if password else "email"
            raise InvalidInput(_("Only the role can be changed here."), field=field)
        return _membership_change(brand, membership, role, is_executive), False
    user = membership.user if membership else User.objects.filter(username=username).first()
    if user is None:
        new_account = _user_create(username=username, email=email, password=password)
        if new_account is not None:
            membership = Membership.objects.create(
                brand=brand, user=new_account, role=role, is_executive=is_executive
            )
            return membership, True
        # Another request created the account (for another brand) since we looked.
        user = User.objects.get(username=username)
    if password or (email and email != user.email):
        # Not even a superuser takes over an account that other brands share by
        # resetting its password or address here.
        raise InvalidInput(_("This user already exists; only the role can be set here."), field="username")
    if membership is not None:
        return _membership_change(brand, membership, role, is_executive), False
    return Membership.objects.create(brand=brand, user=user, role=role, is_executive=is_executive), True


def _refuse_unless_manager(principal: Principal | None, brand: Brand) -> None:
    if principal is not None and not principal.has_role(brand.pk, Role.MANAGER):
        raise Forbidden(_("This action needs the %(role)s role in this brand.") % {"role": Role.MANAGER})


def _membership_change(brand: Brand, membership: Membership, role: str, is_executive: bool) -> Membership:
    if membership.role == Role.MANAGER and role != Role.MANAGER:
        _refuse_losing_last_manager(brand, membership)
    membership.role, membership.is_executive = role, is_executive
    membership.save(update_fields=["role", "is_executive"])
    return membership


def _user_create(*, username: str, email: str, password: str):
    """A new account (password checked by Django's validators), or None if the name is taken."""
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
    try:
        # A savepoint: another request may create the same username at the same
        # moment (for another brand); the unique constraint decides, and the loser's
        # transaction goes on.
        with transaction.atomic():
            user.save()
    except IntegrityError:
        return None
    return user


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    _lock_brand(membership.brand)
    if membership.role == Role.MANAGER:
        _refuse_losing_last_manager(membership.brand, membership)
    membership.delete()


def _refuse_losing_last_manager(brand: Brand, membership: Membership) -> None:
    managers = brand.memberships.select_for_update().filter(role=Role.MANAGER)
    if not managers.exclude(pk=membership.pk).exists():
        raise Conflict(_("A brand must keep at least one manager."))


@transaction.atomic
def invitation_create(
    *, principal: Principal, brand: Brand, email: str, role: str, is_executive: bool = False
) -> Invitation:
    """
    Invite `email` to `brand`: the row, and its e-mail in the outbox, in one transaction.

    A new invitation to the same address replaces the pending one. The e-mail is
    written by the desk's outbox (incidents/), which crisis/ may not import: the
    function that writes it is named by `settings.INVITATION_SENDER` and called here,
    inside this transaction, so the invitation and its e-mail exist together or not
    at all, and the outbox delivers (and retries) it as it does every notification.
    """
    _refuse_unless_manager(principal, brand)
    now = timezone.now()
    _lock_brand(brand)
    email = User.objects.normalize_email(email.strip())
    pending = invitations_pending(brand, now=now)
    pending.filter(email__iexact=email).update(revoked_at=now)
    if pending.count() >= MAX_PENDING_INVITATIONS:
        raise Conflict(_("Too many pending invitations; revoke some first."))
    invitation, token = Invitation.issue(
        brand=brand, email=email, role=role, is_executive=is_executive, invited_by=principal.user, now=now
    )
    import_string(settings.INVITATION_SENDER)(invitation=invitation, token=token)
    return invitation


def invitation_revoke(*, invitation: Invitation) -> None:
    Invitation.objects.for_brands([invitation.brand_id]).filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())


def invitation_problem(invitation: Invitation | None, *, now) -> str | None:
    """Why the invitation cannot be accepted (None: it can); an unknown token is None's problem."""
    if invitation is None:
        return _("This invitation link is not valid.")
    problem = INVITATION_PROBLEMS.get(invitation.state(now))
    return str(problem) if problem else None


@transaction.atomic
def invitation_accept(
    *, token: str, user=None, username: str = "", password: str = ""
) -> tuple[Membership, bool]:
    """
    Accept the invitation `token` carries: `user` joins its brand, or a new account
    (`username`, `password`; its e-mail the invited address) does. Returns
    (membership, created); someone who is already a member keeps their role.

    One use: the invitation is locked (after its brand, the order every writer here
    keeps) and checked again under the lock, so of two acceptances at once one joins
    and the other is told the invitation was used.
    """
    now = timezone.now()
    found = Invitation.from_token(token)
    if found is not None:
        _lock_brand(found.brand)
        found = Invitation.all_brands.select_for_update().select_related("brand").get(pk=found.pk)
    problem = invitation_problem(found, now=now)
    if problem:
        raise InvitationUnusable(problem)
    if user is None:
        if not password:
            raise InvalidInput(_("Choose a password."), field="password")
        user = _user_create(username=username, email=found.email, password=password)
        if user is None:
            raise InvalidInput(_("This username is taken; choose another."), field="username")
    membership = found.brand.memberships.filter(user=user).first()
    created = membership is None
    if created:
        membership = Membership.objects.create(
            brand=found.brand, user=user, role=found.role, is_executive=found.is_executive
        )
    Invitation.all_brands.filter(pk=found.pk).update(accepted_at=now, accepted_by=user)
    return membership, created


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
