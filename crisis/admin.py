"""Admin for brands, members, invitations and integration keys."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import services
from .models import Brand, BrandKey, DetectionPolicy, Invitation, Membership, Mention
from .selectors import brands_visible_to
from .tenancy import Principal


class BrandListFilter(admin.RelatedFieldListFilter):
    """The brand filter offers the signed-in user's brands (a superuser: every brand), not all names."""

    def field_choices(self, field, request, model_admin):
        brands = brands_visible_to(Principal.for_user(request.user)).order_by("name")
        return [(brand.pk, str(brand)) for brand in brands]


class CheckedSelectionMixin:
    """An action on a malformed selection (`_selected_action=1%00`) changes nothing and says so."""

    # Django filters by the posted ids unparsed: one that is not an id was a ValueError (a 500).
    def response_action(self, request, queryset):
        pk = self.model._meta.pk
        try:
            for value in request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME):
                if not -(2**63) <= pk.to_python(value) < 2**63:
                    raise ValidationError("out of range")
        except ValidationError:
            message = gettext(
                "Items must be selected in order to perform actions on them. No items have been changed."
            )
            self.message_user(request, message, messages.WARNING)
            return None
        return super().response_action(request, queryset)


class TenantAdminMixin(CheckedSelectionMixin):
    """The rows of the brands the signed-in user may see (a superuser: every brand's)."""

    # Django's admin reads the default manager, which fails closed.
    def get_queryset(self, request):
        rows = self.model.objects.visible_to(Principal.for_user(request.user))
        ordering = self.get_ordering(request)
        return rows.order_by(*ordering) if ordering else rows

    # Django lists every row of the related model as a filter choice: every brand's name.
    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        return [("brand", BrandListFilter) if name == "brand" else name for name in filters]


# Only a superuser attaches an account to a brand here; everyone else joins by invitation.
class MembershipInline(TenantAdminMixin, admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_add_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        # Changing a row's user would attach another account just the same.
        return () if request.user.is_superuser else ("user",)


@admin.register(Brand)
class BrandAdmin(CheckedSelectionMixin, admin.ModelAdmin):
    list_display = ["slug", "name", "language", "time_zone", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ["user", "brand", "role"]
    list_filter = ["role"]

    def has_add_permission(self, request):
        return request.user.is_superuser and super().has_add_permission(request)

    def get_readonly_fields(self, request, obj=None):
        return () if request.user.is_superuser else ("user", "brand")


@admin.register(Invitation)
class InvitationAdmin(TenantAdminMixin, admin.ModelAdmin):
    """Made through the API or the console, which send the e-mail; here they are read or revoked."""

    list_display = [
        "email",
        "brand",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    ]
    list_filter = ["brand", "role"]
    search_fields = ["email"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Revoke selected invitations"))
    def revoke(self, request, queryset):
        for invitation in queryset:
            services.invitation_revoke(invitation=invitation)


@admin.register(BrandKey)
class BrandKeyAdmin(TenantAdminMixin, admin.ModelAdmin):
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
class DetectionPolicyAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ["brand", "enabled", "window_seconds", "min_count", "ratio", "follower_threshold"]


@admin.register(Mention)
class MentionAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ["published_at", "brand", "platform", "sentiment", "author", "reach"]
    list_filter = ["brand", "platform", "sentiment"]
    search_fields = ["text", "author", "external_id"]
    date_hierarchy = "published_at"

    def has_change_permission(self, request, obj=None):
        return False  # what a monitoring tool reported is evidence; it is not edited here
