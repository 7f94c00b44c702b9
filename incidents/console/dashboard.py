"""
The dashboard a manager shows their client: response times of one brand over a period
they choose, in the viewer's time zone, as charts with axes and values, and as CSV.

Every figure comes from the report service (`incidents.reports.response_times`, the same
one `GET /api/v1/reports/response-times/` answers with), so the page and the API cannot
disagree; this module only picks the period, asks for the groups and draws them.
"""

from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from crisis.models import Brand, Role, Severity

from .. import reports
from ..models import SEVERITY_RANK
from . import charts
from .views import _managed_brand

DEFAULT_DAYS = 30
PRESETS = (7, 30, 90)
MAX_DAYS = 366


DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PeriodForm(forms.Form):
    """The period of the dashboard: two local dates, both included."""

    since = forms.DateField(label=pgettext_lazy("period", "From"), required=False, widget=DATE)
    until = forms.DateField(label=pgettext_lazy("period", "To"), required=False, widget=DATE)

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def clean(self):
        data = super().clean()
        until = data.get("until") or self.today
        since = data.get("since") or until - timedelta(days=DEFAULT_DAYS - 1)
        if since > until:
            raise forms.ValidationError(_("The period must start before it ends."))
        if (until - since).days >= MAX_DAYS:
            raise forms.ValidationError(_("Choose a period of at most a year."))
        if since.year < 2000 or until.year >= 2100:
            raise forms.ValidationError(_("Choose dates between 2000 and 2099."))
        data["since"], data["until"] = since, until
        return data


@login_required
def choose(request):
    """`/dashboard/?brand=…`: the brand picker's target, on to that brand's dashboard with the same period."""
    slug = request.GET.get("brand", "")
    if not slug:
        first = Brand.objects.filter(memberships__user=request.user, memberships__role=Role.MANAGER).first()
        slug = first.slug if first else ""
    if not slug or len(slug) > 50:
        return redirect("console:queue")
    period = {k: request.GET[k] for k in ("since", "until") if request.GET.get(k)}
    target = reverse("console:dashboard", kwargs={"slug": slug})
    return redirect(f"{target}?{urlencode(period)}" if period else target)


@login_required
def dashboard(request, slug):
    """Response times of one brand over the chosen period, as charts, tables and CSV links."""
    brand = _managed_brand(request, slug)
    zone = timezone.get_current_timezone()
    now = timezone.now()
    today = timezone.localdate(now)
    asked = {name: request.GET[name] for name in ("since", "until") if request.GET.get(name)}
    # Without a period: the last 30 days, written into the form so that the page shows them.
    default = {"since": (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(), "until": today.isoformat()}
    form = PeriodForm(asked or default, today=today)
    if not form.is_valid():
        return render(request, "console/dashboard.html", _page(request, brand, form, None), status=400)
    period = form.cleaned_data
    since = timezone.make_aware(datetime.combine(period["since"], time.min), zone)
    until = timezone.make_aware(datetime.combine(period["until"] + timedelta(days=1), time.min), zone)

    def report(group_by):
        # Days as the viewer's calendar has them (the zone the console activated).
        return reports.response_times(
            brand_ids={brand.pk},
            since=since,
            until=until,
            group_by=group_by,
            now=now,
            tz=timezone.get_current_timezone_name(),
        )

    by_day, by_severity, by_assignee = report("day"), report("severity"), report("assignee")
    figures = {
        "since": since,
        "until": until,
        "last_day": period["until"],
        "total": by_day["total"],
        "days": by_day["groups"],
        "severities": sorted(by_severity["groups"], key=lambda g: SEVERITY_RANK.get(g["key"], 9)),
        "responders": by_assignee["groups"],
    }
    return render(request, "console/dashboard.html", _page(request, brand, form, figures))


def _page(request, brand, form, figures) -> dict:
    managed = Brand.objects.filter(memberships__user=request.user, memberships__role=Role.MANAGER).order_by(
        "name"
    )
    page = {
        "brand": brand,
        "brands": managed.order_by("name"),
        "form": form,
        "presets": [(days, _preset_query(days)) for days in PRESETS],
        "figures": figures,
    }
    if figures is None:
        return page
    severity_names = dict(Severity.choices)
    for group in figures["severities"]:
        group["label"] = severity_names.get(group["key"], group["key"])
    for group in figures["responders"]:
        group["label"] = group["key"] or _("unassigned")
    api_query = {"brand": brand.slug, "since": _iso(figures["since"]), "until": _iso(figures["until"])}
    page.update(
        {
            **figures,
            "ack_chart": charts.duration_bars(
                [
                    {"label": _day_label(g["key"]), "p50": g["ack_p50_seconds"], "p90": g["ack_p90_seconds"]}
                    for g in figures["days"]
                ],
                title=_("Time to acknowledge by day: median and 90th percentile"),
                median_label=_("median"),
                p90_label=_("90th percentile"),
            )
            if figures["days"]
            else None,
            "severity_chart": _ratio_chart(figures["severities"], _("SLA met by severity")),
            "responder_chart": _ratio_chart(figures["responders"], _("SLA met by responder")),
            "csv": {
                group_by: "/api/v1/reports/response-times/?"
                + urlencode({**api_query, "group_by": group_by, "format": "csv"})
                for group_by in ("day", "severity", "assignee")
            },
            "api_query": urlencode(api_query),
        }
    )
    return page


def _ratio_chart(groups, title):
    if not groups:
        return None
    return charts.ratio_bars(
        [
            {
                "key": g["key"] or "",
                "label": g["label"],
                "ratio": g["ack_sla_met_ratio"],
                "met": g["ack_sla_met"],
                "judged": g["ack_sla_met"] + g["ack_sla_breached"],
            }
            for g in groups
        ],
        title=title,
    )


def _preset_query(days: int) -> str:
    today = timezone.localdate()
    return urlencode({"since": (today - timedelta(days=days - 1)).isoformat(), "until": today.isoformat()})


def _day_label(key: str | None) -> str:
    """A day of the report ("2026-11-30") as a short local date: "30 Nov" / "30 нояб."."""
    if not key:
        return "—"
    try:
        return date_format(date.fromisoformat(key[:10]), "j M")
    except ValueError:
        return key


def _iso(at: datetime) -> str:
    """An instant as the API reads it: ISO 8601 in UTC."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
