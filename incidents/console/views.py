"""Console pages. Thin: read through selectors, write through services, render."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from api.errors import DomainError, Forbidden, NotFound
from crisis import services as crisis_services
from crisis.models import BrandKey, Membership, Role, Severity
from crisis.selectors import brand_for, brands_visible_to
from crisis.tenancy import Principal
from playbooks.services import templates_visible_to

from .. import clock, reports, services
from ..models import OPEN_STATES, State
from ..selectors import (
    incidents_for_display,
    incidents_visible_to,
    reply_render,
    sla_targets_for,
    timeline_of,
)
from . import forms

QUEUE_FILTERS = ("brand", "state", "severity", "assignee")


def _principal(request) -> Principal:
    return Principal.for_user(request.user)


def _http(exc: DomainError):
    """Domain errors the console shows as pages rather than messages."""
    if isinstance(exc, NotFound):
        raise Http404 from exc
    if isinstance(exc, Forbidden):
        raise PermissionDenied(str(exc.detail)) from exc


@login_required
def queue(request):
    """Open incidents of my brands, soonest deadline first; htmx refreshes the rows."""
    principal = _principal(request)
    # The queue shows no checklist or review: the plain joined rows are enough.
    incidents = (
        incidents_visible_to(principal).filter(state__in=OPEN_STATES).select_related("brand", "assignee")
    )
    # Filters are matched against known values only; anything else (a NUL byte…) is ignored.
    chosen = {name: request.GET.get(name, "")[:50].replace("\x00", "") for name in QUEUE_FILTERS}
    if chosen["brand"]:
        incidents = incidents.filter(brand__slug=chosen["brand"])
    if chosen["state"] in State.values:
        incidents = incidents.filter(state=chosen["state"])
    if chosen["severity"] in Severity.values:
        incidents = incidents.filter(severity=chosen["severity"])
    if chosen["assignee"] == "me":
        incidents = incidents.filter(assignee=request.user)
    elif chosen["assignee"] == "none":
        incidents = incidents.filter(assignee__isnull=True)
    context = {
        "incidents": incidents.order_by("ack_due_at", "id")[:200],
        "chosen": chosen,
        "now": timezone.now(),
    }
    if request.htmx:
        return render(request, "console/_queue_rows.html", context)
    return render(
        request,
        "console/queue.html",
        {
            **context,
            "brands": brands_visible_to(principal),
            "states": [(s, label) for s, label in State.choices if s in OPEN_STATES],
            "severities": Severity.choices,
        },
    )


def _incident(request, pk):
    incident = incidents_for_display(_principal(request)).filter(pk=pk).first()
    if incident is None:
        raise Http404
    return incident


@login_required
def incident_page(request, pk, bound_forms=None):
    """The incident; `bound_forms` re-shows a rejected form with its errors next to the fields."""
    principal = _principal(request)
    incident = _incident(request, pk)
    actions = services.available_actions(incident, principal)
    candidates = list(
        Membership.objects.filter(
            brand_id=incident.brand_id, role__in=[Role.RESPONDER, Role.MANAGER], user__is_active=True
        )
        .values_list("user__username", flat=True)
        .order_by("user__username")
    )
    language = incident.brand.language
    templates = (
        templates_visible_to(principal)
        .filter(Q(brand__isnull=True) | Q(brand_id=incident.brand_id), category=incident.category)
        .order_by("-language")
    )
    replies = [
        {"template": t, "text": _draft(t, incident)}
        for t in templates
        if t.language in (language, request.LANGUAGE_CODE)
    ]
    forms_in_page = {
        "resolve_form": forms.ResolveForm(),
        "reopen_form": forms.ReopenForm(),
        "review_form": forms.ReviewForm(),
        "comment_form": forms.CommentForm(),
        "reassign_form": forms.ReassignForm(candidates=candidates),
        **(bound_forms or {}),
    }
    return render(
        request,
        "console/incident.html",
        {
            **forms_in_page,
            "incident": incident,
            "actions": actions,
            "now": timezone.now(),
            **_latest_events(incident),
            "is_manager": principal.has_role(incident.brand_id, Role.MANAGER),
            "can_work": principal.has_role(incident.brand_id, Role.RESPONDER),
            "replies": replies,
        },
        status=400 if bound_forms else 200,
    )


# A storm of duplicate reports writes thousands of events: the page shows the latest,
# the export (CSV/JSON) has them all.
EVENTS_ON_PAGE = 200


def _latest_events(incident) -> dict:
    events = list(timeline_of(incident).reverse()[:EVENTS_ON_PAGE])[::-1]
    total = len(events) if len(events) < EVENTS_ON_PAGE else timeline_of(incident).count()
    return {"events": events, "events_total": total}


def _draft(template, incident) -> str:
    """The template filled with what the incident knows; the rest stays as {name} to edit."""
    try:
        return reply_render(template=template, incident=incident, values={})["text"]
    except ValidationError as exc:
        missing = exc.detail.get("values", {})
        values = {name: "{" + name + "}" for name in missing}
        return reply_render(template=template, incident=incident, values=values)["text"]


# Each action: the form that parses it and the service that does it.
ACTIONS = {
    "claim": (None, services.incident_claim),
    "investigate": (None, services.incident_investigate),
    "resolve": (forms.ResolveForm, services.incident_resolve),
    "reopen": (forms.ReopenForm, services.incident_reopen),
    "review": (forms.ReviewForm, services.incident_review),
    "reassign": (forms.ReassignForm, services.incident_reassign),
    "comment": (forms.CommentForm, services.incident_comment),
}


@login_required
@require_POST
def incident_action(request, pk, action):
    if action not in ACTIONS:
        raise Http404
    form_class, service = ACTIONS[action]
    kwargs = {}
    if form_class is not None:
        form_kwargs = (
            {"candidates": [request.POST.get("assignee", "")]} if form_class is forms.ReassignForm else {}
        )
        form = form_class(request.POST, **form_kwargs)
        if not form.is_valid():
            return incident_page(request, pk, bound_forms={f"{action}_form": form})
        kwargs = form.cleaned_data
    _run(request, lambda: service(incident_id=pk, principal=_principal(request), **kwargs))
    return redirect("console:incident", pk=pk)


@login_required
@require_POST
def step_complete(request, pk, step_id):
    form = forms.StepForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    _run(
        request,
        lambda: services.incident_step_complete(
            incident_id=pk, step_id=step_id, principal=_principal(request), note=note
        ),
    )
    return redirect("console:incident", pk=pk)


def _run(request, call) -> bool:
    try:
        call()
    except DomainError as exc:
        _http(exc)
        messages.error(request, str(exc.detail))
        steps = exc.extra.get("steps")
        if steps:
            messages.error(request, ", ".join(s["title"] for s in steps))
        return False
    except ValidationError as exc:
        for field, errors in exc.detail.items():
            messages.error(request, f"{field}: {' '.join(str(e) for e in errors)}")
        return False
    return True


def _managed_brand(request, slug):
    try:
        return brand_for(_principal(request), slug, minimum_role=Role.MANAGER)
    except DomainError as exc:
        _http(exc)
        raise


@login_required
def brand_settings(request, slug):
    """SLA targets, escalation chain, members and integration keys of one brand."""
    brand = _managed_brand(request, slug)
    targets = sla_targets_for(brand.pk)
    sla_form = forms.SlaForm(
        initial={
            f"{sev}_{kind}_seconds": getattr(t, f"{kind}_seconds")
            for sev, t in targets.items()
            for kind in ("ack", "resolve")
        }
    )
    current = clock.chain_for(brand.pk)
    levels = forms.EscalationLevelFormSet(
        prefix="levels",
        initial=[{**lvl, "users": ", ".join(lvl.get("users", []))} for lvl in current["levels"]],
    )
    repeat_form = forms.RepeatForm(initial={"repeat": current.get("repeat", 0)})
    member_form, key_form = forms.MemberForm(), forms.KeyForm()
    section = request.POST.get("section")
    if request.method == "POST" and section == "sla":
        sla_form = forms.SlaForm(request.POST)
        if sla_form.is_valid():
            services.sla_policy_set(brand=brand, targets=sla_form.targets())
            messages.success(request, _("SLA targets saved."))
            return redirect("console:brand-settings", slug=slug)
    elif request.method == "POST" and section == "escalation":
        levels = forms.EscalationLevelFormSet(request.POST, prefix="levels")
        repeat_form = forms.RepeatForm(request.POST)
        if levels.is_valid() and repeat_form.is_valid() and _save_chain(request, brand, levels, repeat_form):
            messages.success(request, _("Escalation chain saved."))
            return redirect("console:brand-settings", slug=slug)
    elif request.method == "POST" and section == "member":
        member_form = forms.MemberForm(request.POST)
        if member_form.is_valid() and _run(
            request, lambda: crisis_services.membership_set(brand=brand, **member_form.cleaned_data)
        ):
            messages.success(request, _("Member saved."))
            return redirect("console:brand-settings", slug=slug)
    elif request.method == "POST" and section == "remove-member":
        username = request.POST.get("username", "")[:150].replace("\x00", "")
        membership = Membership.objects.filter(brand=brand, user__username=username).first()
        if membership is not None and _run(
            request, lambda: crisis_services.membership_remove(membership=membership)
        ):
            messages.success(request, _("Member removed."))
        return redirect("console:brand-settings", slug=slug)
    elif request.method == "POST" and section == "key":
        key_form = forms.KeyForm(request.POST)
        if key_form.is_valid():
            _key, plain = crisis_services.brand_key_issue(brand=brand, name=key_form.cleaned_data["name"])
            messages.warning(
                request, _("New integration key (shown once, copy it now): %(key)s") % {"key": plain}
            )
            return redirect("console:brand-settings", slug=slug)
    elif request.method == "POST" and section == "revoke-key":
        raw = request.POST.get("key", "")
        key_id = int(raw) if raw.isdigit() and len(raw) < 18 else 0
        key = BrandKey.objects.usable().filter(brand=brand, pk=key_id)
        if key.exists():
            crisis_services.brand_key_revoke(key=key.get())
            messages.success(request, _("Key revoked."))
        return redirect("console:brand-settings", slug=slug)
    return render(
        request,
        "console/brand_settings.html",
        {
            "brand": brand,
            "sla_form": sla_form,
            "levels": levels,
            "repeat_form": repeat_form,
            "member_form": member_form,
            "key_form": key_form,
            "members": Membership.objects.filter(brand=brand)
            .select_related("user")
            .order_by("user__username"),
            "keys": BrandKey.objects.usable().filter(brand=brand),
        },
    )


def _save_chain(request, brand, levels, repeat_form) -> bool:
    from ..serializers import EscalationChainInput

    chosen = [f.cleaned_data for f in levels if f.cleaned_data and not f.cleaned_data.get("DELETE")]
    data = EscalationChainInput(
        data={"levels": chosen, "repeat": repeat_form.cleaned_data["repeat"]}, context={"brand": brand}
    )
    if not data.is_valid():
        for field, errors in data.errors.items():
            messages.error(request, f"{field}: {errors}")
        return False
    services.escalation_policy_set(brand=brand, chain=data.validated_data)
    return True


@login_required
def dashboard(request, slug):
    """Response times of one brand over the last 30 days, as charts and a table."""
    brand = _managed_brand(request, slug)
    now = timezone.now()
    since = now - timedelta(days=30)

    def report(group_by):
        return reports.response_times(
            brand_ids={brand.pk}, since=since, until=now, group_by=group_by, now=now
        )

    by_day, by_severity, by_assignee = report("day"), report("severity"), report("assignee")
    slowest = max((g["ack_p50_seconds"] or 0 for g in by_day["groups"]), default=0) or 1
    return render(
        request,
        "console/dashboard.html",
        {
            "brand": brand,
            "total": by_day["total"],
            "since": since,
            "until": now,
            "days": [
                {**g, "height": round(100 * (g["ack_p50_seconds"] or 0) / slowest)} for g in by_day["groups"]
            ],
            "severities": [
                {**g, "percent": round(100 * (g["ack_sla_met_ratio"] or 0))} for g in by_severity["groups"]
            ],
            "responders": by_assignee["groups"],
        },
    )
