"""
The queue: the open incidents of my brands, most urgent first (`selectors.queue_order`).

Filters are the API's own (`IncidentFilter`), by the same names: the page URL carries
them and the htmx refresh of the rows sends them again. A bad value drops that filter
and says why on the page (200, so that the refresh keeps swapping rows in).
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crisis.models import Severity
from crisis.selectors import brands_visible_to
from crisis.tenancy import Principal

from ..filters import IncidentFilter
from ..models import OPEN_STATES, Category, Channel, State
from ..selectors import available_actions, incidents_for_lists, queue_order
from .oncall import on_call_for_queue

# The most rows the queue shows; history and the API page through the rest.
QUEUE_ROWS = 200


# How a page names each of IncidentFilter's parameters when it refuses a value.
FILTER_LABELS = {
    "state": _("State"),
    "severity": _("Severity"),
    "category": _("Category"),
    "brand": _("Brand"),
    "assignee": _("Assignee"),
    "breached": _("Deadline"),
    "channel": _("Channel"),
    "detected_since": _("Detected from"),
    "detected_until": _("Detected before"),
    "q": _("Title or description"),
    "ordering": _("Order"),
}


def filter_context(filters: IncidentFilter) -> dict:
    """What a page of filters shows: the values kept, and each dropped one with its reason."""
    return {
        "chosen": {
            name: filters.data.get(name, "") for name in filters.filters if name not in filters.errors
        },
        "filter_errors": [
            (FILTER_LABELS.get(name, name), error)
            for name, errors in filters.errors.items()
            for error in errors
        ],
    }


def filter_choices(principal: Principal) -> dict:
    """The options of the filter form (the brands are one query)."""
    return {
        "brands": brands_visible_to(principal).order_by("name"),
        "states": State.choices,
        "state_values": State.values,
        "severities": Severity.choices,
        "categories": Category.choices,
        "channels": Channel.choices,
    }


@login_required
def queue(request):
    """Open incidents of my brands (or what the filters ask), most urgent first; htmx refreshes rows."""
    principal = Principal.for_user(request.user)
    params = request.GET.copy()
    params.pop("ordering", None)  # the queue's order is its point; history sorts as asked
    filters = IncidentFilter(params, queryset=incidents_for_lists(principal), request=request)
    filters.is_valid()
    incidents = filters.qs
    if not filters.form.cleaned_data.get("state"):
        incidents = incidents.filter(state__in=OPEN_STATES)
    incidents = list(queue_order(incidents)[:QUEUE_ROWS])
    for incident in incidents:
        # The same rule as the incident page's Claim button (no queries: roles are cached).
        incident.can_claim = "claim" in available_actions(incident, principal)
    context = {
        "incidents": incidents,
        "now": timezone.now(),
        **filter_context(filters),
    }
    if request.htmx:
        return render(request, "console/_queue_rows.html", context)
    return render(
        request,
        "console/queue.html",
        {**context, **filter_choices(principal), "on_call": on_call_for_queue(principal, now=context["now"])},
    )
