"""
The wave on an incident's page: its chart with the moments of the response (detected,
claimed, first public statement, resolved), the
before/after figures, and its mentions loudest first, a page at a time (`?mentions=` is
the API's cursor). Every read is bounded (`selectors.wave_figures`,
`selectors.wave_mentions_page`), so a 100,000-mention wave costs what a small one does.
"""

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from api.errors import InvalidInput

from .. import selectors
from ..models import Incident, WaveMention
from ..waves import WAVE_KEY
from . import charts

CURSOR_PARAMETER = "mentions"


def wave_context(request, incident: Incident) -> dict:
    """The page's `wave` (None for an incident that no mention detection opened and no mention joined)."""
    if (
        incident.dedup_key != WAVE_KEY
        and not WaveMention.objects.for_brands([incident.brand_id]).filter(incident=incident).exists()
    ):
        return {"wave": None}
    now = timezone.now()
    figures = selectors.wave_figures(incident, now=now)
    try:
        page = selectors.wave_mentions_page(incident, cursor=request.GET.get(CURSOR_PARAMETER) or None)
    except InvalidInput:  # a cursor mangled in a link: the first page rather than an error page
        page = selectors.wave_mentions_page(incident)
    moments = [
        charts.Moment("detected", _("Detected"), incident.detected_at),
        charts.Moment("claimed", _("Claimed"), incident.acknowledged_at),
        charts.Moment("statement", _("Public statement"), incident.first_statement_at),
        charts.Moment("resolved", _("Resolved"), incident.resolved_at),
    ]
    shown = sorted((m for m in moments if m.at is not None), key=lambda m: m.at)
    until = figures["series"][-1]["at"] if figures["series"] else now
    until = max([until + timedelta(seconds=figures["bucket_seconds"]), *[m.at for m in shown]])
    return {
        "wave": {
            "figures": figures,
            "moments": shown,
            "minutes_per_bar": figures["bucket_seconds"] // 60,
            "chart": charts.wave_chart(
                figures["series"],
                bucket_seconds=figures["bucket_seconds"],
                since=incident.detected_at,
                until=until,
                moments=shown,
                title=_("Mentions and the negative share over time"),
            ),
            "page": page,
            "deep": bool(request.GET.get(CURSOR_PARAMETER)),  # past the first page: offer it
        }
    }
