"""Console pages. Thin: read through selectors, write through services, render."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from api.errors import DomainError, Forbidden, InvalidInput, NotFound
from crisis import services as crisis_services
from crisis.models import Invitation, Membership, Role, Severity
from crisis.selectors import brand_for, invitations_pending
from crisis.tenancy import Principal
from playbooks.services import templates_visible_to

from .. import forms as action_forms
from .. import policies, reports, selectors, services
from ..selectors import (
    incidents_for_display,
    reply_render,
    sla_targets_for,
    timeline_of,
)
from . import forms
from .middleware import show_brand_times


def _principal(request) -> Principal:
    return Principal.for_user(request.user)


def _http(exc: DomainError):
    """Domain errors the console shows as pages rather than messages."""
    if isinstance(exc, NotFound):
        raise Http404 from exc
    if isinstance(exc, Forbidden):
        raise PermissionDenied(str(exc.detail)) from exc


def _incident(request, pk):
    incident = incidents_for_display(_principal(request)).filter(pk=pk).first()
    if incident is None:
        raise Http404
    show_brand_times(request, incident.brand)
    return incident


@login_required
def incident_page(request, pk, bound_forms=None):
    """The incident; `bound_forms` re-shows a rejected form with its errors next to the fields."""
    principal = _principal(request)
    incident = _incident(request, pk)
    actions = selectors.available_actions(incident, principal)
    candidates = list(
        Membership.objects.for_brands([incident.brand_id])
        .filter(role__in=[Role.RESPONDER, Role.MANAGER], user__is_active=True)
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
        "resolve_form": action_forms.ResolveForm(),
        "reopen_form": action_forms.ReopenForm(),
        "review_form": action_forms.ReviewForm(),
        "comment_form": action_forms.CommentForm(),
        "reassign_form": action_forms.ReassignForm(candidates=candidates),
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
            "reach_warnings": selectors.reach_warnings_for_incident(incident),
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
    return {"events": events, "events_total": total, "timeline": selectors.timeline_lines(incident, events)}


def _draft(template, incident) -> str:
    """The template filled with what the incident knows; the rest stays as {name} to edit."""
    try:
        return reply_render(template=template, incident=incident, values={})["text"]
    except InvalidInput as exc:
        missing = exc.detail if isinstance(exc.detail, dict) else {}
        values = {name: "{" + name + "}" for name in missing}
        return reply_render(template=template, incident=incident, values=values)["text"]


# Each action: the form that parses it and the service that does it.
ACTIONS = {
    "claim": (None, services.incident_claim),
    "investigate": (None, services.incident_investigate),
    "resolve": (action_forms.ResolveForm, services.incident_resolve),
    "reopen": (action_forms.ReopenForm, services.incident_reopen),
    "review": (action_forms.ReviewForm, services.incident_review),
    "reassign": (action_forms.ReassignForm, services.incident_reassign),
    "comment": (action_forms.CommentForm, services.incident_comment),
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
            {"candidates": [request.POST.get("assignee", "")]}
            if form_class is action_forms.ReassignForm
            else {}
        )
        form = form_class(request.POST, **form_kwargs)
        if not form.is_valid():
            return incident_page(request, pk, bound_forms={f"{action}_form": form})
        kwargs = form.cleaned_data
    _run(request, lambda: service(incident_id=pk, principal=_principal(request), **kwargs))
    # The queue's Claim button comes back to the queue as it was filtered.
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)
    return redirect("console:incident", pk=pk)


@login_required
@require_POST
def step_complete(request, pk, step_id):
    form = action_forms.StepForm(request.POST)
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
    except InvalidInput as exc:
        # A list of messages (a password's) reads as sentences, not as a Python list.
        detail = " ".join(map(str, exc.detail)) if isinstance(exc.detail, list | tuple) else str(exc.detail)
        messages.error(request, f"{exc.field}: {detail}")
        return False
    except DomainError as exc:
        _http(exc)
        messages.error(request, str(exc.detail))
        steps = exc.extra.get("steps")
        if steps:
            messages.error(request, ", ".join(s["title"] for s in steps))
        return False
    return True


def _managed_brand(request, slug):
    try:
        brand = brand_for(_principal(request), slug, minimum_role=Role.MANAGER)
    except DomainError as exc:
        _http(exc)
        raise
    show_brand_times(request, brand)
    return brand


def _to_settings(brand):
    return redirect("console:brand-settings", slug=brand.slug)


def _settings_page(request, brand, **bound):
    """The settings page with every form; `bound` re-shows a rejected one with its errors."""
    targets = sla_targets_for(brand.pk)
    current = selectors.chain_for(brand.pk)
    page_forms = {
        "sla_form": forms.SlaForm(
            initial={
                f"{sev}_{kind}_seconds": getattr(t, f"{kind}_seconds")
                for sev, t in targets.items()
                for kind in ("ack", "resolve")
            }
        ),
        "levels": forms.EscalationLevelFormSet(
            prefix="levels",
            initial=[{**lvl, "users": ", ".join(lvl.get("users", []))} for lvl in current["levels"]],
        ),
        "repeat_form": forms.RepeatForm(initial={"repeat": current.get("repeat", 0)}),
        "member_form": forms.MemberForm(),
        "invitation_form": forms.InvitationForm(),
        "key_form": forms.KeyForm(),
        **bound,
    }
    return render(
        request,
        "console/brand_settings.html",
        {
            **page_forms,
            "brand": brand,
            "members": brand.memberships.select_related("user").order_by("user__username"),
            "invitations": invitations_pending(brand, now=timezone.now()),
            "keys": brand.keys.usable(),
            "reach_warnings": selectors.reach_warnings_for_brand(brand.pk),
        },
    )


@login_required
def brand_settings(request, slug):
    """SLA targets, escalation chain, members and keys of one brand; each form posts to its own view."""
    return _settings_page(request, _managed_brand(request, slug))


@login_required
@require_POST
def brand_sla_save(request, slug):
    brand = _managed_brand(request, slug)
    form = forms.SlaForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, brand, sla_form=form)
    policies.sla_policy_set(brand=brand, targets=form.targets())
    messages.success(request, _("SLA targets saved."))
    return _to_settings(brand)


@login_required
@require_POST
def brand_escalation_save(request, slug):
    brand = _managed_brand(request, slug)
    levels = forms.EscalationLevelFormSet(request.POST, prefix="levels")
    repeat_form = forms.RepeatForm(request.POST)
    saved = levels.is_valid() and repeat_form.is_valid() and _save_chain(request, brand, levels, repeat_form)
    if not saved:
        return _settings_page(request, brand, levels=levels, repeat_form=repeat_form)
    messages.success(request, _("Escalation chain saved."))
    return _to_settings(brand)


@login_required
@require_POST
def brand_member_save(request, slug):
    brand = _managed_brand(request, slug)
    form = forms.MemberForm(request.POST)
    if not (
        form.is_valid()
        and _run(
            request,
            lambda: crisis_services.membership_set(
                principal=_principal(request), brand=brand, **form.cleaned_data
            ),
        )
    ):
        return _settings_page(request, brand, member_form=form)
    messages.success(request, _("Member saved."))
    return _to_settings(brand)


@login_required
@require_POST
def brand_member_remove(request, slug):
    """An unknown or malformed username changes nothing and says nothing, as the list is what it is."""
    brand = _managed_brand(request, slug)
    form = forms.MemberRemoveForm(request.POST)
    membership = (
        brand.memberships.filter(user__username=form.cleaned_data["username"]).first()
        if form.is_valid()
        else None
    )
    if membership is not None and _run(
        request, lambda: crisis_services.membership_remove(membership=membership)
    ):
        messages.success(request, _("Member removed."))
    return _to_settings(brand)


@login_required
@require_POST
def brand_invitation_create(request, slug):
    brand = _managed_brand(request, slug)
    form = forms.InvitationForm(request.POST)
    if not (
        form.is_valid()
        and _run(
            request,
            lambda: crisis_services.invitation_create(
                principal=_principal(request), brand=brand, **form.cleaned_data
            ),
        )
    ):
        return _settings_page(request, brand, invitation_form=form)
    messages.success(request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]})
    return _to_settings(brand)


@login_required
@require_POST
def brand_invitation_revoke(request, slug):
    """An invitation already used, revoked, another brand's or malformed changes nothing and says nothing."""
    brand = _managed_brand(request, slug)
    form = forms.InvitationRevokeForm(request.POST)
    invitation = (
        invitations_pending(brand, now=timezone.now()).filter(pk=form.cleaned_data["invitation"]).first()
        if form.is_valid()
        else None
    )
    if invitation is not None:
        crisis_services.invitation_revoke(invitation=invitation)
        messages.success(request, _("Invitation withdrawn."))
    return _to_settings(brand)


@require_http_methods(["GET", "POST"])
def invitation_page(request, token):
    """
    The link an invitation e-mail carries. Signed in: join the brand. Not signed in:
    create an account here and join, or sign in and come back. A used, withdrawn,
    expired or unknown link gets a page that says so.
    """
    invitation = Invitation.from_token(token)
    problem = crisis_services.invitation_problem(invitation, now=timezone.now())
    if problem:
        return _invitation_unusable(request, problem, status=404 if invitation is None else 410)
    signed_in = request.user.is_authenticated
    form = forms.SignUpForm(request.POST if request.method == "POST" and not signed_in else None)
    if request.method == "POST" and (signed_in or form.is_valid()):
        account = {} if signed_in else {name: form.cleaned_data[name] for name in ("username", "password")}
        try:
            membership, joined = crisis_services.invitation_accept(
                token=token, user=request.user if signed_in else None, **account
            )
        except crisis_services.InvitationUnusable as exc:
            return _invitation_unusable(request, str(exc.detail), status=410)
        except InvalidInput as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.detail)
        else:
            if not signed_in:
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            brand = {"brand": invitation.brand.name}
            if joined:
                messages.success(request, _("You have joined %(brand)s.") % brand)
            else:
                messages.info(request, _("You are already a member of %(brand)s.") % brand)
            return redirect("console:queue")
    return render(
        request,
        "console/invitation.html",
        {"invitation": invitation, "form": form},
        status=400 if form.errors else 200,
    )


def _invitation_unusable(request, problem: str, *, status: int):
    return render(request, "console/invitation.html", {"problem": problem}, status=status)


@login_required
@require_POST
def brand_key_issue(request, slug):
    brand = _managed_brand(request, slug)
    form = forms.KeyForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, brand, key_form=form)
    _key, plain = crisis_services.brand_key_issue(brand=brand, name=form.cleaned_data["name"])
    messages.warning(request, _("New integration key (shown once, copy it now): %(key)s") % {"key": plain})
    return _to_settings(brand)


@login_required
@require_POST
def brand_key_revoke(request, slug):
    """A key already revoked, another brand's or malformed changes nothing and says nothing."""
    brand = _managed_brand(request, slug)
    form = forms.KeyRevokeForm(request.POST)
    key = brand.keys.usable().filter(pk=form.cleaned_data["key"]).first() if form.is_valid() else None
    if key is not None:
        crisis_services.brand_key_revoke(key=key)
        messages.success(request, _("Key revoked."))
    return _to_settings(brand)


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
    policies.escalation_policy_set(brand=brand, chain=data.validated_data)
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
                {
                    **g,
                    "label": dict(Severity.choices).get(g["key"], g["key"]),
                    "percent": round(100 * (g["ack_sla_met_ratio"] or 0)),
                }
                for g in by_severity["groups"]
            ],
            "responders": by_assignee["groups"],
        },
    )
