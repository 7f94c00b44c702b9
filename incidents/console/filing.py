"""
Filing an incident from the console: the same input rules and the same service as
`POST /api/v1/incidents/`.

The form here only renders fields and carries back what was typed. What is valid is
decided by the API's own `IncidentInput` (brand, lengths, choices, URL, "not in the
future", NUL), and filing or counting a duplicate by `incidents.filing.incident_file`
(who may file, deduplication): so the console and the API cannot disagree, as the
action forms of `incidents/forms.py` leave the rules to the services.
"""

import hashlib

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from api.errors import DomainError, InvalidInput
from crisis.models import Role
from crisis.selectors import brands_visible_to
from crisis.tenancy import Principal

from .. import filing
from ..models import Category, Channel, Severity
from ..serializers import IncidentInput
from .forms import refusal_on_form, sentences

# The lengths the API allows, shown to the browser (the API's input still decides).
_API_FIELDS = IncidentInput().fields


def _max_length(name: str) -> dict:
    return {"maxlength": _API_FIELDS[name].max_length}


def _shown(label, widget, help_text="") -> forms.Field:
    """A field that renders and keeps what was typed, and checks nothing: IncidentInput does."""
    return forms.Field(label=label, widget=widget, required=False, help_text=help_text)


def dedup_key_for(source_url: str) -> str:
    """
    The dedup key of a console filing that names none: its source URL, so that two people
    filing the same post while the first incident is open make one incident and a
    duplicate. A URL longer than a key may be (255) is keyed by its SHA-256.
    """
    limit = _API_FIELDS["dedup_key"].max_length
    if len(source_url) <= limit:
        return source_url
    return "url-sha256:" + hashlib.sha256(source_url.encode()).hexdigest()


class FilingForm(forms.Form):
    brand = _shown(gettext_lazy("Brand"), forms.Select(attrs={"required": True}))
    title = _shown(gettext_lazy("Title"), forms.TextInput(attrs={"required": True, **_max_length("title")}))
    severity = _shown(
        gettext_lazy("Severity"),
        forms.Select(choices=Severity.choices),
        gettext_lazy("It picks the deadlines."),
    )
    category = _shown(
        gettext_lazy("Category"),
        forms.Select(choices=Category.choices),
        gettext_lazy("It picks the playbook."),
    )
    channel = _shown(gettext_lazy("Channel"), forms.Select(choices=[("", "—"), *Channel.choices]))
    source_url = _shown(
        gettext_lazy("Source URL"),
        forms.URLInput(attrs={**_max_length("source_url"), "placeholder": "https://"}),
        gettext_lazy("The post, review or article."),
    )
    detected_at = _shown(
        gettext_lazy("When it became public"),
        forms.DateTimeInput(attrs={"type": "datetime-local", "step": 1}),
        gettext_lazy("The deadlines count from this moment. Empty: now."),
    )
    description = _shown(
        gettext_lazy("Description"),
        forms.Textarea(attrs={"rows": 5, **_max_length("description")}),
    )
    dedup_key = _shown(
        gettext_lazy("Duplicate key"),
        forms.TextInput(attrs=_max_length("dedup_key")),
        gettext_lazy(
            "While an incident with this key is open, filing again only counts a duplicate on it. "
            "Empty: the source URL."
        ),
    )

    def __init__(self, *args, principal: Principal, brands, **kwargs):
        super().__init__(*args, **kwargs)
        self.principal = principal
        # One brand is chosen for you; among several, a choice must be made (no silent first one).
        self.fields["brand"].widget.choices = [("", "—")] * (len(brands) > 1) + [
            (b.slug, b.name) for b in brands
        ]
        self.fields["severity"].initial = _API_FIELDS["severity"].default
        self.fields["category"].initial = _API_FIELDS["category"].default
        self.validated = None

    def clean(self):
        # What was typed, as the API would receive it: a field left empty is not sent, so
        # the API's defaults apply (severity medium, category other, detected now).
        typed = {name: self.data.get(name, "") for name in self.fields}
        typed = {name: value for name, value in typed.items() if value.strip()}
        if "dedup_key" not in typed and "source_url" in typed:
            typed["dedup_key"] = dedup_key_for(typed["source_url"].strip())
        data = IncidentInput(data=typed, context={"principal": self.principal})
        if data.is_valid():
            self.validated = data.validated_data
            return self.cleaned_data
        for name, errors in data.errors.items():
            self.add_error(name if name in self.fields else None, [str(error) for error in errors])
        return self.cleaned_data


def brands_to_file_in(principal: Principal) -> list:
    """The brands where this person may file: responders and managers (filing.incident_file's rule)."""
    return [
        brand
        for brand in brands_visible_to(principal).order_by("name")
        if principal.has_role(brand.pk, Role.RESPONDER)
    ]


@login_required
@require_http_methods(["GET", "POST"])
def file_incident(request):
    """File an incident; a duplicate of an open one is counted on it and says so, with a link."""
    principal = Principal.for_user(request.user)
    brands = brands_to_file_in(principal)
    form = FilingForm(request.POST or None, principal=principal, brands=brands)
    if request.method == "POST" and form.is_valid():
        try:
            filed = filing.incident_file(principal=principal, **form.validated)
        except InvalidInput as exc:
            refusal_on_form(form, exc)
        except DomainError as exc:  # Forbidden: a viewer of that brand
            form.add_error("brand", sentences(exc.detail))
        else:
            incident = filed.incident
            if filed.created:
                messages.success(request, _("Incident #%(id)s filed.") % {"id": incident.pk})
            else:
                messages.warning(request, _duplicate_notice(incident))
            return redirect("console:incident", pk=incident.pk)
    return render(
        request,
        "console/file.html",
        {"form": form, "brands": brands},
        status=400 if form.errors else 200,
    )


def _duplicate_notice(incident) -> str:
    link = format_html('<a href="{}">#{}</a>', reverse("console:incident", args=[incident.pk]), incident.pk)
    return format_html(
        _(
            "Counted as a duplicate of {link} “{title}”: it is open, so nothing new was filed. "
            "Duplicates so far: {count}."
        ),
        link=link,
        title=incident.title,
        count=incident.duplicate_count,
    )
