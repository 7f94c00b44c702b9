"""Console pages. Thin: read through selectors, write through services, render."""

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.db.models import F, Q
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from api.errors import DomainError, Forbidden, InvalidInput, NotFound
from crisis import services as crisis_services
from crisis.models import Invitation, Membership, Role, Severity
from crisis.selectors import brand_for, invitations_pending
from crisis.tenancy import Principal
from playbooks import placeholders
from playbooks.models import ChecklistStep
from playbooks.services import templates_visible_to

from .. import command, policies, selectors, services
from .. import forms as action_forms
from .. import messages as desk_messages
from ..errors import StepsIncomplete
from ..models import OPEN_STATES, Incident, State
from ..selectors import (
    incidents_for_display,
    incidents_visible_to,
    reply_defaults,
    reply_render,
    sla_targets_for,
    timeline_of,
)
from . import forms
from .middleware import show_brand_times
from .statements import StatementRouteForm, statements_context
from .wave import wave_context


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
def incident_page(request, pk):
    """The incident: facts, the actions open to me, checklist, replies, review and timeline."""
    return _incident_page(request, pk)


def _incident_page(request, pk, *, bound=None, preview=None, statement_bound=None):
    """
    The incident page; `bound` re-shows a refused form with what the person typed and
    why it was refused (400 for a field, 409 for the incident's state, such as open steps);
    `statement_bound`, the same for the statement editor's forms (`console/statements.py`).
    """
    principal = _principal(request)
    incident = _incident(request, pk)
    actions = selectors.available_actions(incident, principal)
    candidates = list(
        Membership.objects.for_brands([incident.brand_id])
        .filter(role__in=[Role.RESPONDER, Role.MANAGER], user__is_active=True)
        .values_list("user__username", flat=True)
        .order_by("user__username")
    )
    forms_in_page = {
        "resolve_form": action_forms.ResolveForm(),
        "reopen_form": action_forms.ReopenForm(),
        "review_form": action_forms.ReviewForm(),
        "comment_form": action_forms.CommentForm(),
        "reassign_form": action_forms.ReassignForm(candidates=candidates),
        "severity_form": action_forms.SeverityForm(initial={"severity": incident.severity}),
        "roles_form": action_forms.RoleForm(candidates=candidates),
        "update_form": action_forms.StatusUpdateForm(),
        **(bound or {}),
    }
    # A refused hand-over offers everyone again, not only the name that was posted.
    forms_in_page["reassign_form"].fields["assignee"].choices = [(u, u) for u in candidates]
    forms_in_page["roles_form"].fields["username"].choices = (
        action_forms.RoleForm(candidates=candidates).fields["username"].choices
    )
    resolve_form = forms_in_page["resolve_form"]
    # A refused resolve points at the steps that block it, as they stand now.
    blocking = (
        [s for s in incident.checklist.all() if s.required and not s.completed_at]
        if resolve_form.has_error(NON_FIELD_ERRORS, code=StepsIncomplete.code)
        else []
    )
    status = 200
    refused = [*(bound or {}).values(), *(statement_bound or {}).values()]
    for form in refused:
        if isinstance(form, django_forms.Form) and form.errors:
            status = max(status, 400 if any(name != NON_FIELD_ERRORS for name in form.errors) else 409)
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
            "blocking_steps": blocking,
            "blocking_ids": {s.pk for s in blocking},
            "review": _review(incident),
            **_replies(principal, incident),
            **_command(request, principal, incident, preview=preview),
            **statements_context(request, principal, incident, bound=statement_bound),
            **wave_context(request, incident),
        },
        status=status,
    )


# --- Incident command: severity, roles, related and merged incidents, status updates -----------

UPDATES_ON_PAGE = 5
FOUND_ON_PAGE = 10


def _command(request, principal, incident, *, preview=None) -> dict:
    """What the incident page shows and offers of incident command (a fixed number of queries)."""
    is_manager = principal.has_role(incident.brand_id, Role.MANAGER)
    can_work = principal.has_role(incident.brand_id, Role.RESPONDER)
    related_ids = [link["incident"] for link in incident.links]
    if incident.merged_into_id:
        related_ids.append(incident.merged_into_id)
    shown = {
        row["pk"]: _said(row)
        for row in Incident.objects.for_brands([incident.brand_id])
        .filter(pk__in=related_ids)
        .values("pk", "title", "state")
    }
    if preview is not None:
        preview["label"] = dict(Severity.choices)[preview["severity"]]
    query = (request.GET.get("find") or "").strip()[:200]
    return {
        "roles": [
            {"role": role, "label": label, "person": name}
            for (role, label), name in zip(
                desk_messages.ROLE_LABELS.items(), desk_messages.roles_of(incident).values(), strict=True
            )
        ],
        "can_give_roles": can_work
        and incident.is_open
        and (is_manager or principal.user_id == incident.commander_id),
        "can_change_severity": incident.is_open
        and can_work
        and (is_manager or principal.user_id == incident.assignee_id),
        "severity_preview": preview,
        "linked": [shown[pk] for pk in related_ids if pk in shown and pk != incident.merged_into_id],
        "linked_ids": set(related_ids),
        "merged_into": shown.get(incident.merged_into_id),
        "find": query,
        "found": _found(principal, incident, query) if query and can_work else [],
        "can_update": can_work and incident.state != State.REVIEWED and not incident.merged_into_id,
        "updates": list(selectors.status_updates_of(incident)[:UPDATES_ON_PAGE]),
        # Where the current beat began (the countdown colours from it).
        "update_base": max(filter(None, [incident.acknowledged_at, incident.last_update_at]), default=None),
    }


def _said(row: dict) -> dict:
    """An incident row of a list as the page shows it: its state in words, and whether it is open."""
    return {**row, "state_label": State(row["state"]).label, "is_open": row["state"] in OPEN_STATES}


def _found(principal, incident, query: str) -> list:
    """Incidents of the same brand to link or merge with: by number (#12 or 12) or words of the title."""
    candidates = incidents_visible_to(principal).filter(brand_id=incident.brand_id).exclude(pk=incident.pk)
    number = query.lstrip("#")
    matches = Q(title__icontains=query)
    if number.isdigit() and len(number) <= 18:
        matches |= Q(pk=int(number))
    rows = candidates.filter(matches).order_by("-created_at", "-id").values("pk", "title", "state")
    return [_said(row) for row in rows[:FOUND_ON_PAGE]]


def _review(incident) -> dict | None:
    """The stored review and the response figures it was taken with (older reviews may lack some)."""
    notes = incident.review_notes
    if not notes:
        return None
    figures = {"escalation_level": incident.escalation_level, **(notes.get("figures") or {})}
    return {**notes, "figures": figures, "follow_ups": list(incident.follow_ups.all())}


# A storm of duplicate reports writes thousands of events: the page shows the latest,
# the export (CSV/JSON) has them all.
EVENTS_ON_PAGE = 200


def _latest_events(incident) -> dict:
    events = list(timeline_of(incident).reverse()[:EVENTS_ON_PAGE])[::-1]
    total = len(events) if len(events) < EVENTS_ON_PAGE else timeline_of(incident).count()
    return {"events": events, "events_total": total, "timeline": selectors.timeline_lines(incident, events)}


# --- Replies to start from -------------------------------------------------------------------


def _templates_for(principal, incident):
    """Reply templates for the incident's category: the brand's own first, then the shared ones."""
    return (
        templates_visible_to(principal)
        .filter(Q(brand__isnull=True) | Q(brand_id=incident.brand_id), category=incident.category)
        .order_by(F("brand_id").desc(nulls_last=True), "name", "id")
    )


def _replies(principal, incident) -> dict:
    """Templates in the brand's language (`replies`); those in other languages, folded (`other_replies`)."""
    known = reply_defaults(incident)
    found = {"replies": [], "other_replies": []}
    for template in _templates_for(principal, incident):
        try:
            names = placeholders.placeholders(template.body)
        except placeholders.TemplateError:
            continue  # a malformed template (saved around the API's check) helps nobody
        reply = {
            "template": template,
            "form": forms.ReplyForm(prefix=f"reply-{template.pk}", names=names, known=known),
            "text": reply_draft(template, incident, {}),
        }
        found["replies" if template.language == incident.brand.language else "other_replies"].append(reply)
    return found


def reply_draft(template, incident, values: dict[str, str]) -> str:
    """
    The one filler of the console's drafts: the template filled from `values` and the
    incident (`selectors.reply_render`, as the API's render); a placeholder nobody
    filled stays as {name}, to edit.
    """
    names = placeholders.placeholders(template.body)
    values = {name: value for name, value in values.items() if name in names}
    try:
        return reply_render(template=template, incident=incident, values=values)["text"]
    except InvalidInput as exc:
        missing = exc.detail if isinstance(exc.detail, dict) else {}
        values = {**values, **{name: "{" + name + "}" for name in missing}}
        return reply_render(template=template, incident=incident, values=values)["text"]


@login_required
@require_POST
def reply_preview(request, pk, template_id):
    """The draft as the placeholders' fields now fill it, for the page's live preview (JSON)."""
    principal = _principal(request)
    incident = incidents_visible_to(principal).select_related("brand", "assignee").filter(pk=pk).first()
    template = _templates_for(principal, incident).filter(pk=template_id).first() if incident else None
    if template is None:
        raise Http404
    try:
        names = placeholders.placeholders(template.body)
    except placeholders.TemplateError:
        raise Http404 from None
    form = forms.ReplyForm(request.POST, prefix=f"reply-{template.pk}", names=names, known={})
    if not form.is_valid():
        return JsonResponse({"errors": forms.sentences(form.errors)}, status=400)
    return JsonResponse({"text": reply_draft(template, incident, form.values())})


# --- Actions -----------------------------------------------------------------------------------

# Each action: the form that parses it, the service that does it, and what the page says after.
ACTIONS = {
    "claim": (None, services.incident_claim, gettext_lazy("You have claimed this incident.")),
    "investigate": (None, services.incident_investigate, gettext_lazy("Investigation started.")),
    "resolve": (action_forms.ResolveForm, services.incident_resolve, gettext_lazy("Incident resolved.")),
    "reopen": (action_forms.ReopenForm, services.incident_reopen, gettext_lazy("Incident reopened.")),
    "review": (
        action_forms.ReviewForm,
        services.incident_review,
        gettext_lazy("Review saved; the incident is closed."),
    ),
    "reassign": (
        action_forms.ReassignForm,
        services.incident_reassign,
        gettext_lazy("Handed over to %(assignee)s."),
    ),
    "comment": (action_forms.CommentForm, services.incident_comment, gettext_lazy("Comment added.")),
    "roles": (action_forms.RoleForm, command.incident_role_set, gettext_lazy("Role saved.")),
    "link": (
        action_forms.LinkForm,
        lambda *, incident_id, principal, incident: command.incident_link(
            incident_id=incident_id, principal=principal, other_id=incident
        ),
        gettext_lazy("Linked with #%(incident)s."),
    ),
    "unlink": (
        action_forms.LinkForm,
        lambda *, incident_id, principal, incident: command.incident_unlink(
            incident_id=incident_id, principal=principal, other_id=incident
        ),
        gettext_lazy("No longer linked with #%(incident)s."),
    ),
    "merge": (
        action_forms.MergeForm,
        command.incident_merge,
        gettext_lazy("Merged into #%(into)s: this incident is closed."),
    ),
    "update": (
        action_forms.StatusUpdateForm,
        command.status_update_post,
        gettext_lazy("Status update sent."),
    ),
}

# Forms whose choices are the brand's people: bound with the posted name as the only choice,
# the service judging whether that person may hold it.
PEOPLE_FORMS = {
    action_forms.ReassignForm: "assignee",
    action_forms.RoleForm: "username",
}


@login_required
@require_POST
def incident_action(request, pk, action):
    if action not in ACTIONS:
        raise Http404
    form_class, service, done = ACTIONS[action]
    form, kwargs = None, {}
    if form_class is not None:
        field = PEOPLE_FORMS.get(form_class)
        form_kwargs = {"candidates": [request.POST.get(field, "")]} if field else {}
        form = form_class(request.POST, **form_kwargs)
        if not form.is_valid():
            return _incident_page(request, pk, bound={f"{action}_form": form})
        kwargs = form.cleaned_data
    if not _run(request, lambda: service(incident_id=pk, principal=_principal(request), **kwargs), form=form):
        if form is not None:
            # What the person typed stays on the page, with the reason next to it.
            return _incident_page(request, pk, bound={f"{action}_form": form})
    else:
        messages.success(request, str(done) % kwargs)
    # The queue's Claim button comes back to the queue as it was filtered.
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)
    return redirect("console:incident", pk=pk)


@login_required
@require_POST
def severity_change(request, pk):
    """
    A severity change in two steps: the first post shows the deadlines it would give, the
    second (with `confirm`) makes it — with the deadlines as they are then.
    """
    form = action_forms.SeverityForm(request.POST)
    if not form.is_valid():
        return _incident_page(request, pk, bound={"severity_form": form})
    data = form.cleaned_data
    if not data["confirm"]:
        incident = _incident(request, pk)
        preview = command.severity_preview(incident, severity=data["severity"], now=timezone.now())
        preview["reason"] = data["reason"]
        return _incident_page(request, pk, preview=preview)
    call = lambda: command.incident_severity_change(  # noqa: E731
        incident_id=pk, principal=_principal(request), severity=data["severity"], reason=data["reason"]
    )
    if not _run(request, call, form=form):
        return _incident_page(request, pk, bound={"severity_form": form})
    label = dict(Severity.choices)[data["severity"]]
    messages.success(
        request, _("Severity changed to %(severity)s; the deadlines follow it.") % {"severity": label}
    )
    return redirect("console:incident", pk=pk)


@login_required
@require_POST
def step_complete(request, pk, step_id):
    form = action_forms.StepForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    done = _run(
        request,
        lambda: services.incident_step_complete(
            incident_id=pk, step_id=step_id, principal=_principal(request), note=note
        ),
    )
    if done:
        step = ChecklistStep.objects.visible_to(_principal(request)).filter(pk=step_id).first()
        messages.success(request, _("Step done: %(step)s.") % {"step": step.title if step else ""})
    return redirect(f"{reverse('console:incident', args=[pk])}#step-{step_id}")


def _run(request, call, form=None) -> bool:
    """
    Call a service; False when it refused. The refusal is said in sentences (never a
    Python repr): on `form` when there is one, next to the field it names, else as a
    message. Not found and forbidden become the 404 and 403 pages.
    """
    try:
        call()
    except DomainError as exc:
        _http(exc)
        if form is not None:
            forms.refusal_on_form(form, exc)
        else:
            for sentence in forms.sentences(exc.detail):
                messages.error(request, sentence)
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
    """The settings page with every form; `bound` re-shows a refused one with its errors (400)."""
    page_forms = {
        "sla_form": forms.SlaForm.from_targets(sla_targets_for(brand.pk)),
        "chain_form": forms.EscalationChainForm(brand=brand, chain_now=selectors.chain_for(brand.pk)),
        "member_form": forms.MemberForm(),
        "invitation_form": forms.InvitationForm(),
        "key_form": forms.KeyForm(),
        "route_form": StatementRouteForm(brand=brand),
        "updates_form": forms.UpdatesPolicyForm.from_policy(selectors.updates_policy_for(brand.pk)),
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
        status=400 if bound else 200,
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
    chain_form = forms.EscalationChainForm(request.POST, brand=brand)
    if not chain_form.is_valid():
        return _settings_page(request, brand, chain_form=chain_form)
    policies.escalation_policy_set(brand=brand, chain=chain_form.chain)
    messages.success(request, _("Escalation chain saved."))
    return _to_settings(brand)


@login_required
@require_POST
def brand_updates_policy_save(request, slug):
    brand = _managed_brand(request, slug)
    form = forms.UpdatesPolicyForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, brand, updates_form=form)
    policies.updates_policy_set(brand=brand, **form.policy)
    messages.success(request, _("Status update policy saved."))
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
            form=form,
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
            form=form,
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
            forms.refusal_on_form(form, exc)
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
    key, plain = crisis_services.brand_key_issue(brand=brand, name=form.cleaned_data["name"])
    messages.warning(request, _("New integration key (shown once, copy it now): %(key)s") % {"key": plain})
    # The same credential as PagerDuty's senders carry it in the body (API.md, keys).
    routing_key = _("Its routing key, for PagerDuty senders (shown once too): %(key)s")
    messages.warning(request, routing_key % {"key": key.routing_key()})
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
