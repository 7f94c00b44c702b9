"""
Pulled sources in the admin: tenant-scoped like every brand-owned model, saved through
the services (their rules, their sealing). The token field is write-only: it is never
filled in, and neither the token nor its sealed form is shown on any admin page.
"""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from api.errors import InvalidInput
from crisis.admin import TenantAdminMixin
from crisis.models import Brand, Role
from crisis.tenancy import Principal

from . import services
from .models import Source, SourceStatus


class SourceAdminForm(forms.ModelForm):
    new_credentials = forms.CharField(
        label=_("API token"),
        required=False,
        strip=False,
        max_length=2000,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Stored encrypted and never shown. Leave empty to keep the current one."),
    )

    class Meta:
        model = Source
        fields = ["brand", "kind", "name", "query", "interval_seconds", "enabled"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        secret = data.get("new_credentials") or None
        try:
            services.source_check(
                kind=data["kind"],
                query=data["query"],
                interval_seconds=data["interval_seconds"],
                secret=secret,
                sealed=self.instance.credentials if self.instance.pk else "",
            )
        except InvalidInput as error:
            field = {"credentials": "new_credentials"}.get(error.field, error.field)
            self.add_error(field if field in self.fields else None, str(error.detail))
        return data


@admin.register(Source)
class SourceAdmin(TenantAdminMixin, admin.ModelAdmin):
    form = SourceAdminForm
    list_display = [
        "name",
        "brand",
        "kind",
        "enabled",
        "status",
        "last_polled_at",
        "failures",
        "mentions_received",
    ]
    list_filter = ["brand", "kind", "enabled"]
    readonly_fields = [
        "status",
        "has_credentials",
        "next_poll_at",
        "last_polled_at",
        "last_success_at",
        "last_cursor",
        "last_error",
        "last_error_at",
        "failures",
        "mentions_received",
        "mentions_skipped",
        "created_at",
    ]

    def get_fields(self, request, obj=None):
        return [*SourceAdminForm.Meta.fields, "new_credentials", *self.readonly_fields]

    @admin.display(description=_("status"))
    def status(self, obj):
        return SourceStatus(obj.status).label

    @admin.display(description=_("API token set"), boolean=True)
    def has_credentials(self, obj):
        return obj.has_credentials

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "brand":
            principal = Principal.for_user(request.user)
            brands = Brand.objects.all()
            if not principal.is_superuser:
                managed = [b for b, role in principal.roles.items() if role == Role.MANAGER]
                brands = brands.filter(pk__in=managed)
            kwargs["queryset"] = brands.order_by("name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        fields = {name: data[name] for name in ("kind", "name", "query", "interval_seconds", "enabled")}
        secret = data.get("new_credentials") or None
        if change:
            saved = services.source_update(
                source=obj, **fields, **({"credentials": secret} if secret is not None else {})
            )
        else:
            saved = services.source_create(brand=data["brand"], credentials=secret or "", **fields)
        obj.pk = saved.pk
