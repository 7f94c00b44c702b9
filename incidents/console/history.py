"""
History and search: every incident of my brands in any state, through the API's own
filters (`IncidentFilter`, API.md) and its `ordering`; and a manager's list of resolved
incidents awaiting review, the longest waiting first.

Both are paginated, and the URL carries the filters and the page, so a search can be
bookmarked and shared. A bad filter value is named on the page (400) and that filter is
not applied; the rest still are.
"""

from datetime import datetime

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crisis.models import Role
from crisis.tenancy import Principal

from ..filters import IncidentFilter
from ..selectors import incidents_awaiting_review, incidents_for_lists
from .queue import filter_choices, filter_context

PAGE_SIZE = 50

# The API's `ordering` values (API.md), as a person reads them; the first is the API's default.
ORDERINGS = [
    ("-created_at", _("Latest filed first")),
    ("created_at", _("Earliest filed first")),
    ("ack_due_at", _("Claim deadline: soonest first")),
    ("-ack_due_at", _("Claim deadline: latest first")),
    ("severity", _("Most severe first")),
    ("-severity", _("Least severe first")),
]


def _local_input(value: datetime | None) -> str:
    """An instant as a datetime-local input shows it: in the viewer's time zone, no offset."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return local.strftime("%Y-%m-%dT%H:%M:%S" if local.second else "%Y-%m-%dT%H:%M")


@login_required
def history(request):
    """All incidents of my brands, any state, filtered and ordered as the API would."""
    principal = Principal.for_user(request.user)
    filters = IncidentFilter(request.GET, queryset=incidents_for_lists(principal), request=request)
    valid = filters.is_valid()
    page = Paginator(filters.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = filter_context(filters)
    cleaned = filters.form.cleaned_data
    # A bookmark may carry an ISO instant with any offset; the inputs show it in the viewer's zone.
    for name in ("detected_since", "detected_until"):
        if name in context["chosen"]:
            context["chosen"][name] = _local_input(cleaned.get(name))
    return render(
        request,
        "console/history.html",
        {
            **context,
            **filter_choices(principal),
            "page": page,
            "orderings": ORDERINGS,
            "now": timezone.now(),
        },
        status=200 if valid else 400,
    )


@login_required
def awaiting_review(request):
    """Resolved, not yet reviewed incidents of the brands I manage, the longest waiting first."""
    principal = Principal.for_user(request.user)
    manages = principal.is_superuser or any(
        principal.has_role(brand_id, Role.MANAGER) for brand_id in principal.brand_ids() or ()
    )
    incidents = incidents_awaiting_review(principal)
    page = Paginator(incidents, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    for incident in page:
        incident.waited = now - incident.resolved_at
        # The brand's managers were reminded once it waited this long (REVIEW_REMINDER_SECONDS).
        incident.reminded = incident.waited.total_seconds() >= settings.REVIEW_REMINDER_SECONDS
    return render(
        request,
        "console/awaiting_review.html",
        {"page": page, "manages": manages, "now": now},
        status=200 if manages else 403,
    )
