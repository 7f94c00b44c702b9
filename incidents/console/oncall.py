"""
On-call pages: who is on call now and next (the queue and the "On call" page), one
schedule's coming two weeks drawn as a timeline, "take this shift", and the managers'
forms for layers and overrides.

Times are the viewer's (`middleware.show_brand_times`); the maths is `crisis.shifts`, the
rows are read and written only through `crisis.oncall`, the API's own services, so the
console and the API cannot disagree on who is on call or on what is refused.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from api.errors import DomainError
from crisis import oncall, shifts
from crisis.models import Membership, Role, Schedule
from crisis.selectors import brand_for, brands_visible_to
from crisis.tenancy import Principal

from . import forms
from .middleware import show_brand_times
from .views import _http, _run

# How far ahead the pages look: the timeline's two weeks, and "next" on the queue.
AHEAD = timedelta(days=14)
# Colours of people on a timeline (console.css, .who-0 … .who-7).
COLOURS = 8


@dataclass(frozen=True)
class NowAndNext:
    """One schedule's person on call now (until when) and the next one (from when); None: nobody."""

    schedule: Schedule
    now: shifts.Shift | None
    next: shifts.Shift | None


def now_and_next(schedules, *, now: datetime) -> list[NowAndNext]:
    """Who is on call now and next on each schedule (a queryset); four queries however many."""
    rows = oncall.with_rows(schedules.select_related("brand"), overrides_from=now, until=now + AHEAD)
    found = []
    for schedule in rows:
        turns = shifts.turns(shifts.final_shifts(oncall.plan_of(schedule), now, now + AHEAD))
        current = turns[0] if turns and turns[0].start <= now else None
        later = turns[1:] if current else turns
        found.append(NowAndNext(schedule=schedule, now=current, next=later[0] if later else None))
    return found


def on_call_for_queue(principal: Principal, *, now: datetime) -> list[NowAndNext]:
    """The queue's panel: every schedule of the viewer's brands, by brand and name."""
    return now_and_next(Schedule.objects.visible_to(principal).order_by("brand__name", "name", "id"), now=now)


# --- The pages -------------------------------------------------------------------------


def _principal(request) -> Principal:
    return Principal.for_user(request.user)


def _brand(request, slug, *, minimum_role=None):
    """The brand, if the viewer may see it (else 404) and holds `minimum_role` (else 403)."""
    try:
        brand = brand_for(_principal(request), slug, minimum_role=minimum_role)
    except DomainError as exc:
        _http(exc)
        raise
    show_brand_times(request, brand)
    return brand


def _schedule(request, slug, pk, *, minimum_role=None):
    brand = _brand(request, slug, minimum_role=minimum_role)
    schedule = oncall.schedules_of(brand).filter(pk=pk).first()
    if schedule is None:
        raise Http404
    return brand, schedule


def _candidates(brand) -> list[str]:
    """Who may be on call: the brand's active responders and managers, by name."""
    return list(
        Membership.objects.for_brands([brand.pk])
        .filter(role__in=oncall.ON_CALL_ROLES, user__is_active=True)
        .order_by("user__username")
        .values_list("user__username", flat=True)
    )


@login_required
def on_call_page(request):
    """Every schedule of my brands: who is on call now and next; managers start new ones here."""
    principal = _principal(request)
    return render(
        request,
        "console/on_call.html",
        {
            "on_call": on_call_for_queue(principal, now=timezone.now()),
            "managed": [
                b
                for b in brands_visible_to(principal).order_by("name")
                if principal.has_role(b.pk, Role.MANAGER)
            ],
        },
    )


@login_required
def schedule_page(request, slug, pk):
    brand, schedule = _schedule(request, slug, pk)
    return _schedule_page(request, brand, schedule)


def _schedule_page(request, brand, schedule, *, override_form=None, status=200):
    principal = _principal(request)
    now = timezone.now()
    zone = timezone.get_current_timezone()
    # The two weeks begin at the viewer's midnight, so that the grid's lines are their days.
    since = timezone.localtime(now, zone).replace(hour=0, minute=0, second=0, microsecond=0)
    until = (since.replace(tzinfo=None) + AHEAD).replace(tzinfo=zone)
    since, until = _instant(since), _instant(until)
    schedule = oncall.with_rows(oncall.schedules_of(brand), overrides_from=since, until=until).get(
        pk=schedule.pk
    )
    plan = oncall.plan_of(schedule)
    is_manager = principal.has_role(brand.pk, Role.MANAGER)
    can_take = principal.has_role(brand.pk, Role.RESPONDER)
    me = request.user.get_username()
    coming = shifts.turns(shifts.final_shifts(plan, now, until))
    overrides = [o for o in schedule.overrides.all() if o.end > now]
    return render(
        request,
        "console/schedule.html",
        {
            "brand": brand,
            "schedule": schedule,
            "timeline": _timeline(schedule, plan, since, until, now),
            "coming": [
                {
                    "shift": s,
                    "mine": s.user == me,
                    "can_take": can_take and s.user != me,
                    "start": max(s.start, now),
                }
                for s in coming
            ],
            "overrides": [
                {"row": o, "can_remove": is_manager or o.user_id == request.user.pk} for o in overrides
            ],
            "is_manager": is_manager,
            "override_form": override_form
            or (forms.OverrideForm(candidates=_candidates(brand)) if is_manager else None),
            "zone_name": timezone.get_current_timezone_name(),
        },
        status=status,
    )


def _instant(local: datetime) -> datetime:
    """A local wall-clock reading as the instant it names (fold=0, as `crisis.shifts` does)."""
    return local.replace(fold=0).astimezone(UTC)


def _timeline(schedule, plan, since, until, now) -> dict:
    """
    The coming two weeks as rows of bars placed in percent of the period: each layer as it
    rotates (restrictions applied), the overrides, and the result, who is on call.
    """
    span = (until - since).total_seconds()

    def at(instant) -> float:
        return max(0.0, min(100.0, 100 * (instant - since).total_seconds() / span))

    people = sorted({u for layer in plan.layers for u in layer.users} | {o.user for o in plan.overrides})
    colour = {user: n % COLOURS for n, user in enumerate(people)}

    def bars(found) -> list[dict]:
        return [
            {
                "user": s.user,
                "start": s.start,
                "end": s.end,
                "left": f"{at(s.start):.3f}",
                "width": f"{at(s.end) - at(s.start):.3f}",
                "colour": colour.get(s.user, 0),
            }
            for s in found
        ]

    rows = [
        {
            "label": layer.name,
            "kind": "layer",
            "bars": bars(shifts.layer_shifts(layer, plan.zone, since, until)),
        }
        for layer in plan.layers
    ]
    rows.append(
        {
            "label": _("Overrides"),
            "kind": "override",
            "bars": bars(
                shifts.Shift(o.user, max(o.start, since), min(o.end, until))
                for o in plan.overrides
                if o.start < until and o.end > since
            ),
        }
    )
    rows.append(
        {"label": _("On call"), "kind": "final", "bars": bars(shifts.final_shifts(plan, since, until))}
    )
    zone = timezone.get_current_timezone()
    first = timezone.localtime(since, zone).date()
    days = []
    for n in range(AHEAD.days):
        day = first + timedelta(days=n)
        begins = _instant(datetime.combine(day, datetime.min.time()).replace(tzinfo=zone))
        days.append({"date": day, "left": f"{at(begins):.3f}", "weekend": day.weekday() >= 5})
    return {
        "rows": rows,
        "days": days,
        "now": f"{at(now):.3f}",
        "people": [{"user": user, "colour": colour[user]} for user in people],
    }


@login_required
@require_POST
def take_shift(request, slug, pk):
    """A responder takes a shift (or what is left of it) for themselves: an override, as the API makes it."""
    brand, schedule = _schedule(request, slug, pk)
    form = forms.TakeShiftForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("This shift could not be read: reload the page and try again."))
        return redirect("console:schedule", slug=brand.slug, pk=schedule.pk)
    if _run(
        request,
        lambda: oncall.override_add(
            principal=_principal(request),
            schedule=schedule,
            username=request.user.get_username(),
            now=timezone.now(),
            **form.cleaned_data,
        ),
    ):
        messages.success(request, _("The shift is yours."))
    return redirect("console:schedule", slug=brand.slug, pk=schedule.pk)


@login_required
@require_POST
def override_add(request, slug, pk):
    """A manager puts someone on call for a while."""
    brand, schedule = _schedule(request, slug, pk, minimum_role=Role.MANAGER)
    form = forms.OverrideForm(request.POST, candidates=_candidates(brand))
    if form.is_valid() and _run(
        request,
        lambda: oncall.override_add(
            principal=_principal(request),
            schedule=schedule,
            username=form.cleaned_data["user"],
            start=form.cleaned_data["start"],
            end=form.cleaned_data["end"],
            now=timezone.now(),
        ),
        form=form,
    ):
        messages.success(request, _("Override added."))
        return redirect("console:schedule", slug=brand.slug, pk=schedule.pk)
    return _schedule_page(request, brand, schedule, override_form=form, status=400)


@login_required
@require_POST
def override_remove(request, slug, pk):
    """A manager, or the person who took the shift, removes an override; another's or a gone one: 404."""
    brand, schedule = _schedule(request, slug, pk)
    form = forms.OverrideRemoveForm(request.POST)
    override = (
        schedule.overrides.select_related("schedule").filter(pk=form.cleaned_data["override"]).first()
        if form.is_valid()
        else None
    )
    if override is None:
        raise Http404
    if _run(request, lambda: oncall.override_remove(principal=_principal(request), override=override)):
        messages.success(request, _("Override removed."))
    return redirect("console:schedule", slug=brand.slug, pk=schedule.pk)


@login_required
@require_http_methods(["GET", "POST"])
def schedule_edit(request, slug, pk=None):
    """A manager creates a schedule or edits its name, zone and layers (overrides stay)."""
    brand = _brand(request, slug, minimum_role=Role.MANAGER)
    schedule = None
    if pk is not None:
        schedule = oncall.with_rows(oncall.schedules_of(brand)).filter(pk=pk).first()
        if schedule is None:
            raise Http404
    form = forms.ScheduleForm(request.POST if request.method == "POST" else None, schedule=schedule)
    if request.method == "POST" and form.is_valid():
        try:
            if schedule is None:
                schedule = oncall.schedule_create(brand=brand, **form.validated)
            else:
                oncall.schedule_update(schedule=schedule, **form.validated)
        except DomainError as exc:
            form.refuse(exc)
        else:
            messages.success(request, _("Schedule saved."))
            return redirect("console:schedule", slug=brand.slug, pk=schedule.pk)
    return render(
        request,
        "console/schedule_edit.html",
        {
            "brand": brand,
            "schedule": schedule,
            "form": form,
            "candidates": _candidates(brand),
            "zone_name": timezone.get_current_timezone_name(),
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def schedule_delete(request, slug, pk):
    schedule = _schedule(request, slug, pk, minimum_role=Role.MANAGER)[1]
    oncall.schedule_delete(schedule=schedule)
    messages.success(request, _("Schedule deleted."))
    return redirect("console:on-call")
