"""DRF permission classes: who may reach an endpoint at all (object checks live in services)."""

from rest_framework.permissions import BasePermission

from .models import BrandKey


class IsUserOrIntegrationKey(BasePermission):
    """A signed-in user, or a brand's integration key."""

    def has_permission(self, request, view):
        if isinstance(request.auth, BrandKey):
            return True
        return bool(request.user and request.user.is_authenticated)


class IsUser(BasePermission):
    """A signed-in user; integration keys get 403 here."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)
