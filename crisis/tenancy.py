"""
Who is calling and which brands they may see.

`Principal` is the caller of every service: a user (with their roles, loaded
once) or an integration key. Tenant-owned models use `TenantManager`, which
fails closed: `Model.objects.all()` is empty; rows come only through
`.visible_to(principal)` or `.for_brands(ids)`. System code that really means
"every brand" (sweepers, admin for superusers) says so with `Model.all_brands`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import models

from .models import ROLE_RANK, BrandKey, Membership, Role


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
            roles = dict(Membership.objects.filter(user=user).values_list("brand_id", "role"))
            user._crisis_roles = roles
        return cls(user=user, is_superuser=user.is_superuser, roles=roles)

    @classmethod
    def for_key(cls, key: BrandKey) -> Principal:
        return cls(key=key)

    @classmethod
    def from_request(cls, request) -> Principal:
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
        if self.is_superuser:
            return Role.MANAGER
        return self.roles.get(brand_id)

    def has_role(self, brand_id: int, minimum: str) -> bool:
        role = self.role_in(brand_id)
        return role is not None and ROLE_RANK[role] >= ROLE_RANK[minimum]


class TenantManager(models.Manager):
    """A manager that returns nothing unless told whose rows to return."""

    def __init__(self, brand_field: str = "brand"):
        super().__init__()
        self.brand_field = brand_field

    def deconstruct(self):
        # Migrations do not need to know about the brand field argument.
        return (False, f"{__name__}.{type(self).__name__}", None, (self.brand_field,), {})

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().none()

    def for_brands(self, brand_ids) -> models.QuerySet:
        return super().get_queryset().filter(**{f"{self.brand_field}__in": list(brand_ids)})

    def visible_to(self, principal: Principal) -> models.QuerySet:
        ids = principal.brand_ids()
        if ids is None:
            return super().get_queryset()
        return self.for_brands(ids)
