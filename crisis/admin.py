"""Admin for brands, members and integration keys."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from . import services
from .models import Brand, BrandKey, DetectionPolicy, Membership, Mention


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "brand", "role"]
    list_filter = ["role"]


@admin.register(BrandKey)
class BrandKeyAdmin(admin.ModelAdmin):
    """Keys are made here with a name; the plain key is shown once, in a message."""

    list_display = ["name", "brand", "prefix", "created_at", "revoked_at"]
    list_filter = ["brand"]
    fields = ["brand", "name", "prefix", "created_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "revoked_at"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        key, plain = services.brand_key_issue(brand=obj.brand, name=obj.name)
        obj.pk, obj.prefix = key.pk, key.prefix
        messages.warning(request, _("Integration key (shown once, copy it now): %(key)s") % {"key": plain})

    @admin.action(description=_("Revoke selected keys"))
    def revoke(self, request, queryset):
        for key in queryset:
            services.brand_key_revoke(key=key)


@admin.register(DetectionPolicy)
class DetectionPolicyAdmin(admin.ModelAdmin):
    list_display = ["brand", "enabled", "window_seconds", "min_count", "ratio", "follower_threshold"]


@admin.register(Mention)
class MentionAdmin(admin.ModelAdmin):
    list_display = ["published_at", "brand", "platform", "sentiment", "author", "reach"]
    list_filter = ["brand", "platform", "sentiment"]
    search_fields = ["text", "author", "external_id"]
    date_hierarchy = "published_at"

    def has_change_permission(self, request, obj=None):
        return False  # what a monitoring tool reported is evidence; it is not edited here
