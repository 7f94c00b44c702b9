"""
The console's pages for pulled sources (brand settings → "Pulled sources"): add, edit,
enable or disable, delete. Managers of the brand only; each calls the same services as
the API. The list itself is `console/_sources.html`, included in the settings page.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from api.errors import Forbidden, InvalidInput, NotFound
from crisis.models import Role
from crisis.selectors import brand_for
from crisis.tenancy import Principal

from . import services
from .models import SourceKind


class SourceForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Tool"), choices=SourceKind.choices)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    query = forms.CharField(
        label=gettext_lazy("Theme, collector or URL"),
        max_length=2000,
        help_text=gettext_lazy(
            "Brand Analytics: the theme id; Talkwalker: the collector id; JSON feed: its URL."
        ),
    )
    credentials = forms.CharField(
        label=gettext_lazy("API token"),
        required=False,
        strip=False,
        max_length=2000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("Stored encrypted and never shown again."),
    )
    interval_minutes = forms.IntegerField(
        label=gettext_lazy("Poll every (minutes)"), min_value=1, max_value=1440
    )
    enabled = forms.BooleanField(label=gettext_lazy("Enabled"), required=False, initial=True)

    def values(self) -> dict:
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "name": data["name"],
            "query": data["query"],
            "interval_seconds": data["interval_minutes"] * 60,
            "enabled": data["enabled"],
        }


def _managed_brand(request, slug):
    try:
        return brand_for(Principal.for_user(request.user), slug, minimum_role=Role.MANAGER)
    except NotFound:
        raise Http404 from None
    except Forbidden:
        raise PermissionDenied from None


def _source(brand, pk):
    source = brand.sources.filter(pk=pk).first()
    if source is None:
        raise Http404
    return source


def _refused(form, error: InvalidInput) -> None:
    field = {"interval_seconds": "interval_minutes"}.get(error.field, error.field)
    form.add_error(field if field in form.fields else None, str(error.detail))


def _back(brand):
    response = redirect("console:brand-settings", slug=brand.slug)
    response["Location"] += "#sources"
    return response


@login_required
def source_add(request, slug):
    brand = _managed_brand(request, slug)
    form = SourceForm(request.POST or None, initial={"interval_minutes": 5, "enabled": True})
    if request.method == "POST" and form.is_valid():
        try:
            source = services.source_create(
                brand=brand, credentials=form.cleaned_data["credentials"], **form.values()
            )
        except InvalidInput as error:
            _refused(form, error)
        else:
            messages.success(request, _("Source %(name)s added.") % {"name": source.name})
            return _back(brand)
    status = 400 if request.method == "POST" else 200
    return render(request, "sources/source_form.html", {"brand": brand, "form": form}, status=status)


@login_required
def source_edit(request, slug, pk):
    brand = _managed_brand(request, slug)
    source = _source(brand, pk)
    initial = {
        "kind": source.kind,
        "name": source.name,
        "query": source.query,
        "interval_minutes": max(1, source.interval_seconds // 60),
        "enabled": source.enabled,
    }
    form = SourceForm(request.POST or None, initial=initial)
    form.fields["credentials"].help_text = _(
        "Stored encrypted and never shown. Leave empty to keep the current one."
    )
    if request.method == "POST" and form.is_valid():
        secret = form.cleaned_data["credentials"]
        try:
            services.source_update(
                source=source, **form.values(), **({"credentials": secret} if secret else {})
            )
        except InvalidInput as error:
            _refused(form, error)
        else:
            messages.success(request, _("Source %(name)s saved.") % {"name": form.cleaned_data["name"]})
            return _back(brand)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "sources/source_form.html", {"brand": brand, "form": form, "source": source}, status=status
    )


@login_required
@require_POST
def source_toggle(request, slug, pk):
    brand = _managed_brand(request, slug)
    source = services.source_update(source=_source(brand, pk), enabled=not _source(brand, pk).enabled)
    if source.enabled:
        messages.success(request, _("Source %(name)s enabled: it is polled now.") % {"name": source.name})
    else:
        messages.success(request, _("Source %(name)s disabled.") % {"name": source.name})
    return _back(brand)


@login_required
@require_POST
def source_delete(request, slug, pk):
    brand = _managed_brand(request, slug)
    source = _source(brand, pk)
    services.source_delete(source=source)
    messages.success(request, _("Source %(name)s deleted; its mentions stay.") % {"name": source.name})
    return _back(brand)
