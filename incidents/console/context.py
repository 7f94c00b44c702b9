"""Template context for every console page."""


def managed_brands(request):
    """Brands the signed-in user manages, for the navigation (one query, not one per brand)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"managed_brands": []}
    from crisis.models import Brand, Role

    return {"managed_brands": Brand.objects.filter(memberships__user=user, memberships__role=Role.MANAGER)}
