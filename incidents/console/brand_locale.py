"""
A brand's language and time zone on its settings page (`console/_brand_locale.html`).

The same service as `PATCH /api/v1/brands/{slug}/` (`crisis.services.brand_update`). The
zone is what members who chose none of their own see times in, on the brand's pages.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from api.errors import DomainError, Forbidden, NotFound
from crisis import services as crisis_services
from crisis import timezones
from crisis.models import Role
from crisis.selectors import brand_for
from crisis.tenancy import Principal


class BrandLocaleForm(forms.Form):
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=settings.LANGUAGES)
    time_zone = forms.CharField(label=gettext_lazy("Time zone"), max_length=64)

    def clean_time_zone(self):
        zone = self.cleaned_data["time_zone"]
        if zone not in timezones.names():
            raise forms.ValidationError(timezones.INVALID)
        return zone


@login_required
@require_POST
def brand_locale_save(request, slug):
    try:
        brand = brand_for(Principal.for_user(request.user), slug, minimum_role=Role.MANAGER)
    except NotFound as exc:
        raise Http404 from exc
    except Forbidden as exc:
        raise PermissionDenied(str(exc.detail)) from exc
    form = BrandLocaleForm(request.POST)
    if not form.is_valid():
        # Both are lists to pick from: only a hand-made request gets here. Say why, keep the rest.
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect("console:brand-settings", slug=brand.slug)
    try:
        crisis_services.brand_update(brand=brand, **form.cleaned_data)
    except DomainError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, _("The brand's language and time zone are saved."))
    return redirect("console:brand-settings", slug=brand.slug)
