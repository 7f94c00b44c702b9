"""Admin for playbooks (steps inline) and response templates."""

from django.contrib import admin

from crisis.admin import TenantAdminMixin

from .models import Playbook, PlaybookStep, ResponseTemplate


class PlaybookStepInline(TenantAdminMixin, admin.TabularInline):
    model = PlaybookStep
    extra = 1
    fields = ["position", "title", "description", "role", "due_after_seconds", "required"]


@admin.register(Playbook)
class PlaybookAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ["name", "category", "brand", "language", "updated_at"]
    list_filter = ["category", "language", "brand"]
    search_fields = ["name"]
    inlines = [PlaybookStepInline]


@admin.register(ResponseTemplate)
class ResponseTemplateAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ["name", "category", "language", "brand"]
    list_filter = ["category", "language", "brand"]
    search_fields = ["name", "body"]
