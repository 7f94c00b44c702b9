"""
Admin for incidents and SLA policies.

State changes are admin actions that call the same services as the API; the
actions that need words (resolve, review, reopen) ask for them on a form.
"""

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from api.errors import DomainError, InvalidInput
from crisis.admin import BrandListFilter, CheckedSelectionMixin, TenantAdminMixin
from crisis.tenancy import Principal

from . import forms, services
from .models import Incident, SlaPolicy, TimelineEvent


class TimelineInline(TenantAdminMixin, admin.TabularInline):
    model = TimelineEvent
    fields = ["at", "kind", "actor_label", "from_state", "to_state", "data"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _is_member_or_superuser(user) -> bool:
    return user.is_active and (user.is_superuser or bool(Principal.for_user(user).roles))


@admin.register(Incident)
class IncidentAdmin(CheckedSelectionMixin, admin.ModelAdmin):
    list_display = ["id", "title", "brand", "severity", "state", "assignee", "ack_due_at"]
    list_filter = ["state", "severity", "category", ("brand", BrandListFilter)]
    search_fields = ["title", "dedup_key"]
    list_select_related = ["brand", "assignee"]
    inlines = [TimelineInline]
    actions = ["claim", "investigate", "resolve", "review", "reopen"]

    # Every field is read-only here: an edited severity would leave its deadlines
    # wrong, an edited state would skip the timeline. Changes are the actions.
    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Incident._meta.fields]

    # Brand members reach the admin through their roles, not Django model
    # permissions; the services check the role for each action.
    def has_module_permission(self, request):
        return _is_member_or_superuser(request.user)

    def has_view_permission(self, request, obj=None):
        return _is_member_or_superuser(request.user)

    def has_change_permission(self, request, obj=None):
        return _is_member_or_superuser(request.user)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Every field is read-only here; a full save() would still write back columns
        # the sweeper may have changed meanwhile (DESIGN.md: update_fields only).
        return

    def get_queryset(self, request):
        qs = Incident.objects.visible_to(Principal.for_user(request.user))
        return qs.select_related("brand", "assignee")

    def has_add_permission(self, request):
        # Filing computes deadlines and writes the timeline: it goes through the API.
        return False

    def _run(self, request, queryset, service, **kwargs):
        principal = Principal.for_user(request.user)
        done = 0
        for incident in queryset:
            try:
                service(incident_id=incident.pk, principal=principal, **kwargs)
                done += 1
            except InvalidInput as exc:
                self.message_user(request, f"#{incident.pk}: {exc.field}: {exc.detail}", messages.ERROR)
            except DomainError as exc:
                self.message_user(request, f"#{incident.pk}: {exc}", messages.ERROR)
        if done:
            self.message_user(request, _("%(n)d incident(s) updated.") % {"n": done})

    def _with_form(self, request, queryset, form_class, service, title, to_kwargs):
        if "apply" in request.POST:
            form = form_class(request.POST)
            if form.is_valid():
                self._run(request, queryset, service, **to_kwargs(form.cleaned_data))
                return None
        else:
            form = form_class()
        return TemplateResponse(
            request,
            "admin/incidents/action_form.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "form": form,
                "queryset": queryset,
                "action": request.POST.get("action"),
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description=_("Claim"))
    def claim(self, request, queryset):
        self._run(request, queryset, services.incident_claim)

    @admin.action(description=_("Start investigating"))
    def investigate(self, request, queryset):
        self._run(request, queryset, services.incident_investigate)

    @admin.action(description=_("Resolve…"))
    def resolve(self, request, queryset):
        return self._with_form(
            request,
            queryset,
            forms.ResolveForm,
            services.incident_resolve,
            _("Resolve incidents"),
            lambda d: d,
        )

    @admin.action(description=_("Review…"))
    def review(self, request, queryset):
        return self._with_form(
            request, queryset, forms.ReviewForm, services.incident_review, _("Review incidents"), lambda d: d
        )

    @admin.action(description=_("Reopen…"))
    def reopen(self, request, queryset):
        return self._with_form(
            request, queryset, forms.ReopenForm, services.incident_reopen, _("Reopen incidents"), lambda d: d
        )


@admin.register(SlaPolicy)
class SlaPolicyAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ["brand", "severity", "ack_seconds", "resolve_seconds"]
    list_filter = ["brand"]
