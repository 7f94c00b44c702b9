"""
Who is calling and which brands they may see.

`Principal` is the caller of every service: a user (with their roles, loaded
once) or an integration key. Tenant-owned models use `TenantManager`, which
fails closed: `Model.objects.all()` is empty; rows come only through
`.visible_to(principal)` or `.for_brands(ids)`, or through a parent row that was
itself read that way (`incident.checklist`, `brand.keys`, `user.memberships`). System
code that really means "every brand" (the clock, the outbox, metrics, authentication
by key) says so with `Model.all_brands`. Every model with a path to a brand has both
managers; `tests/crisis/test_tenancy.py` finds them by walking the models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q

# crisis.models builds its managers from TenantManager below, so the models are
# imported where they are used, not here: either module may then be imported first.
if TYPE_CHECKING:
    from .models import BrandKey


@dataclass(frozen=True)
class Principal:
    """The caller: a user with their roles per brand, or one brand's integration key."""

    user: object | None = None
    key: BrandKey | None = None
    is_superuser: bool = False
    roles: dict[int, str] = field(default_factory=dict)

    @classmethod
    def for_user(cls, user) -> Principal:
        if user is None or not user.is_authenticated:
            return cls()
        # Cached on the user object so that one request asks the database once.
        roles = getattr(user, "_crisis_roles", None)
        if roles is None:
            # A user's own memberships: scoped by the user (a related manager), across brands.
            roles = dict(user.memberships.values_list("brand_id", "role"))
            user._crisis_roles = roles
        return cls(user=user, is_superuser=user.is_superuser, roles=roles)

    @staticmethod
    def remember_roles(user, roles: dict[int, str]) -> None:
        """Cache `user`'s roles read by another query (`crisis.selectors.viewer_settings`) for `for_user`."""
        user._crisis_roles = roles

    @classmethod
    def for_key(cls, key: BrandKey) -> Principal:
        return cls(key=key)

    @classmethod
    def from_request(cls, request) -> Principal:
        from .models import BrandKey

        auth = getattr(request, "auth", None)
        if isinstance(auth, BrandKey):
            return cls.for_key(auth)
        return cls.for_user(request.user)

    @property
    def is_authenticated(self) -> bool:
        return self.user is not None or self.key is not None

    @property
    def user_id(self) -> int | None:
        return getattr(self.user, "pk", None)

    @property
    def label(self) -> str:
        """How the caller appears in timelines and `reported_by`."""
        if self.key is not None:
            return f"key:{self.key.name}"
        return self.user.get_username() if self.user is not None else ""

    def brand_ids(self) -> set[int] | None:
        """The brands this caller may see; None means all (superusers)."""
        if self.is_superuser:
            return None
        if self.key is not None:
            return {self.key.brand_id}
        return set(self.roles)

    def can_see(self, brand_id: int) -> bool:
        ids = self.brand_ids()
        return ids is None or brand_id in ids

    def role_in(self, brand_id: int) -> str | None:
        """The caller's role in a brand; superusers act as managers everywhere; keys have none."""
        from .models import Role

        if self.is_superuser:
            return Role.MANAGER
        return self.roles.get(brand_id)

    def has_role(self, brand_id: int, minimum: str) -> bool:
        from .models import ROLE_RANK

        role = self.role_in(brand_id)
        return role is not None and ROLE_RANK[role] >= ROLE_RANK[minimum]


class TenantManager(models.Manager):
    """
    A manager that returns nothing unless told whose rows to return.

    `brand_field` is the path from the model to its brand ("brand", "incident__brand");
    with `shared=True` a row without a brand (a shipped playbook) is every brand's.
    """

    def __init__(self, brand_field: str = "brand", *, shared: bool = False):
        super().__init__()
        self.brand_field = brand_field
        self.shared = shared

    def deconstruct(self):
        # Migrations do not need to know about the brand field argument.
        path = f"{__name__}.{type(self).__name__}"
        return (False, path, None, (self.brand_field,), {"shared": self.shared})

    def _through_parent(self) -> bool:
        # Django makes `incident.checklist` (and prefetches of it) from a subclass of the
        # default manager's class with `instance` set, and filters by that parent row: the
        # parent belongs to one brand and was read under scope itself, so it passes.
        return getattr(self, "instance", None) is not None

    def get_queryset(self) -> models.QuerySet:
        rows = super().get_queryset()
        return rows if self._through_parent() else rows.none()

    def _unscoped(self) -> models.QuerySet:
        # Through a parent, keep the parent's filter (the related manager's get_queryset).
        return self.get_queryset() if self._through_parent() else super().get_queryset()

    def for_brands(self, brand_ids) -> models.QuerySet:
        # A related manager is built without arguments: the model's own manager knows the path.
        own = self.model._default_manager if self._through_parent() else self
        rows = Q(**{f"{own.brand_field}__in": list(brand_ids)})
        if own.shared:
            rows |= Q(**{f"{own.brand_field}__isnull": True})
        return self._unscoped().filter(rows)

    def visible_to(self, principal: Principal) -> models.QuerySet:
        ids = principal.brand_ids()
        if ids is None:
            return self._unscoped()
        return self.for_brands(ids)
