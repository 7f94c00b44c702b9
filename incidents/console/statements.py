"""
The statement editor on the incident page (`console/_statements.html`): a draft started from a
response template (its placeholders filled from the incident; the rest left as {name} to edit),
a preview, the versions with a diff between any two, the route with who holds the statement
now and their countdown, approve and reject for the people of the current hop, publish with
the links. Every action posts to a view here that calls `incidents.statements`, as the API does.
The brand's approval route is edited on its settings page (`console/_statement_route.html`,
`StatementRouteForm`), checked by the API's own input.

Nothing a person wrote reaches the page unescaped: bodies, comments and the diff's lines are
template variables (autoescaped), never marked safe.
"""

import contextlib

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from api.errors import DomainError
from crisis.models import Channel, Role
from crisis.tenancy import Principal

from .. import sla, statements
from ..errors import StaleVersion
from ..models import StatementState
from ..reach import Reacher
from ..serializers import MAX_STATEMENT_HOPS, TEXT_MAX
from . import forms as console_forms

CHANNEL_CHOICES = Channel.choices


class StatementForm(forms.Form):
    """A statement's channels, language and text: a new draft, or the next version of one."""

    channels = forms.MultipleChoiceField(
        label=gettext_lazy("Channels"), choices=CHANNEL_CHOICES, widget=forms.CheckboxSelectMultiple
    )
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=settings.LANGUAGES)
    body = forms.CharField(
        label=gettext_lazy("Statement"), max_length=TEXT_MAX, widget=forms.Textarea(attrs={"rows": 7})
    )


class StatementHopForm(console_forms.ReachedPeopleForm):
    """One hop of a brand's approval route: its name, who decides it, and how long they have."""

    field_order = ["name", "within", "roles", "users", "schedules"]

    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("e.g. PR head, Legal")}),
    )
    within = console_forms.DurationField(
        label=gettext_lazy("Decided within"), min_seconds=1, max_seconds=sla.MAX_SECONDS
    )


StatementHopFormSet = forms.formset_factory(
    StatementHopForm, extra=1, max_num=MAX_STATEMENT_HOPS, can_delete=True
)


class StatementRouteForm:
    """
    The route as the settings page edits it: one form per hop, in order. Checked by the API's
    own input (`StatementRouteInput`: each hop names someone, users are members), so the console
    and `PUT /brands/{slug}/statement-route/` accept and refuse the same routes.
    """

    def __init__(self, data=None, *, brand):
        self.brand = brand
        self.hops = StatementHopFormSet(
            data,
            prefix="hops",
            initial=[
                {
                    "name": hop["name"],
                    "within": hop["within_seconds"],
                    "roles": hop["roles"],
                    "users": ", ".join(hop["users"]),
                    "schedules": hop["schedules"],
                }
                for hop in statements.route_of(brand.pk)
            ],
            form_kwargs={"schedule_choices": console_forms.schedule_choices(brand)},
        )
        self.errors: list[str] = []
        self.route: list[dict] | None = None

    def is_valid(self) -> bool:
        from ..serializers import StatementRouteInput

        if not self.hops.is_valid():
            return False
        chosen = [
            {
                "name": f.cleaned_data["name"],
                "within_seconds": f.cleaned_data["within"],
                "roles": f.cleaned_data["roles"],
                "users": f.cleaned_data["users"],
                "schedules": f.cleaned_data.get("schedules", []),
            }
            for f in self.hops
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        data = StatementRouteInput(data={"hops": chosen}, context={"brand": self.brand})
        if not data.is_valid():
            self.errors = console_forms.sentences(data.errors)
            return False
        self.route = data.validated_data["hops"]
        return True


@login_required
@require_POST
def statement_route_save(request, slug):
    """The brand's approval route (managers), as `PUT /brands/{slug}/statement-route/` sets it."""
    from .views import _managed_brand, _settings_page, _to_settings

    brand = _managed_brand(request, slug)
    form = StatementRouteForm(request.POST, brand=brand)
    if not form.is_valid():
        return _settings_page(request, brand, route_form=form)
    statements.statement_route_set(brand=brand, hops=form.route)
    messages.success(
        request,
        _("Approval route saved: statements submitted from now on follow it.")
        if form.route
        else _("Approval route cleared: statements cannot be submitted until a route is set."),
    )
    return _to_settings(brand)


class DecisionForm(forms.Form):
    comment = forms.CharField(
        label=gettext_lazy("Comment"),
        max_length=TEXT_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    # The version on the page: a decision on text edited since is refused (409), not made.
    version = forms.IntegerField(min_value=1, max_value=2**31 - 1, required=False, widget=forms.HiddenInput)


class PublishForm(forms.Form):
    """One URL for each channel of the statement: where it was posted."""

    def __init__(self, *args, channels=(), **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(CHANNEL_CHOICES)
        for channel in channels:
            self.fields[f"link_{channel}"] = forms.URLField(
                label=labels.get(channel, channel), max_length=2000, assume_scheme="https"
            )

    def links(self) -> dict:
        return {name.removeprefix("link_"): url for name, url in self.cleaned_data.items()}


def _lines(diff: str) -> list[tuple[str, str]]:
    """A unified diff's lines with the class each is shown in (added, removed, a hunk's header)."""
    shown = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "added"
        elif line.startswith("-"):
            kind = "removed"
        else:
            kind = "same"
        shown.append((kind, line))
    return shown


def statements_context(request, principal: Principal, incident, *, bound: dict | None = None) -> dict:
    """What the incident page shows of its statements (a fixed number of queries, however many)."""
    bound = bound or {}
    can_write = principal.has_role(incident.brand_id, Role.RESPONDER)
    route = statements.route_of(incident.brand_id)
    who = Reacher()
    username = principal.user.get_username() if principal.user_id else None
    shown = []
    for statement in statements.statements_of(incident):
        answer = statements.statement_answer(statement, who=who, brand_route=route)
        versions = answer["versions"]
        authors = {statement.author.get_username(), versions[-1]["author"] if versions else None}
        current = next((hop for hop in answer["hops"] if hop["state"] == "current"), None)
        item = {
            **answer,
            "state_label": StatementState(statement.state).label,
            "channel_labels": [dict(CHANNEL_CHOICES).get(c, c) for c in statement.channels],
            "links_shown": [(dict(CHANNEL_CHOICES).get(c, c), url) for c, url in statement.links.items()],
            "current": current,
            "can_decide": bool(current and username in current["people"]),
            "is_author": username in authors,
            "can_edit": can_write and statement.state in statements.EDITABLE,
            "can_submit": can_write and statement.state == StatementState.DRAFT and bool(route),
            "can_publish": can_write and statement.state == StatementState.APPROVED,
            "edit_form": bound.get(f"edit_{statement.pk}")
            or StatementForm(
                prefix=f"s{statement.pk}",
                initial={
                    "channels": statement.channels,
                    "language": statement.language,
                    "body": statement.body,
                },
            ),
            "decision_form": bound.get(f"decide_{statement.pk}")
            or DecisionForm(prefix=f"d{statement.pk}", initial={"version": statement.version}),
            "publish_form": bound.get(f"publish_{statement.pk}")
            or PublishForm(prefix=f"p{statement.pk}", channels=statement.channels),
            "diff": _diff_asked(request, statement, versions),
        }
        shown.append(item)
    return {
        "statements": shown,
        "statement_route": route,
        "can_write_statements": can_write,
        "statement_form": bound.get("statement_new") or _new_form(request, incident),
        "statement_preview": bound.get("statement_preview"),
        "statement_templates": _template_choices(request, principal, incident),
    }


def _diff_asked(request, statement, versions) -> dict | None:
    """The diff the page was asked for (`?diff=<statement>&from=&to=`), or the last edit's."""
    numbers = [v["number"] for v in versions]
    if len(numbers) < 2:
        return None
    older, newer = numbers[-2], numbers[-1]
    if request.GET.get("diff") == str(statement.pk):
        with contextlib.suppress(ValueError):
            older, newer = int(request.GET.get("from", older)), int(request.GET.get("to", newer))
    if older not in numbers or newer not in numbers:
        older, newer = numbers[-2], numbers[-1]
    return {
        "from": older,
        "to": newer,
        "lines": _lines(statements.statement_diff(statement, older=older, newer=newer)),
    }


# `views` renders the incident page that includes this card, so it imports this module; the
# helpers of its own used here are imported when called (an import cycle otherwise).


def _template_choices(request, principal, incident) -> list:
    """The response templates a draft may start from: those the page offers as replies."""
    from .views import _templates_for

    return [{"id": t.pk, "name": t.name, "language": t.language} for t in _templates_for(principal, incident)]


def _new_form(request, incident) -> StatementForm:
    """A new draft's form, started from `?statement_template=<id>` when the page was asked to."""
    initial = {
        "channels": [incident.channel] if incident.channel else [],
        "language": incident.brand.language,
    }
    chosen = (request.GET.get("statement_template") or "").strip()
    if chosen.isdigit() and len(chosen) <= 18:
        from .views import _templates_for, reply_draft

        template = _templates_for(Principal.from_request(request), incident).filter(pk=int(chosen)).first()
        if template is not None:
            initial.update({"body": reply_draft(template, incident, {}), "language": template.language})
    return StatementForm(prefix="new", initial=initial)


# --- Actions ----------------------------------------------------------------------------------


def _page(request, pk, **bound):
    """The incident page again, with the statement forms that were refused and why (400 or 409)."""
    from .views import _incident_page

    return _incident_page(request, pk, statement_bound=bound)


def _refused(request, pk, exc: DomainError, *, form=None, key=None):
    """A service's refusal: on the form (next to the field it names), else as a message."""
    from .views import _http

    _http(exc)
    if form is not None:
        console_forms.refusal_on_form(form, exc)
        return _page(request, pk, **{key: form})
    for sentence in console_forms.sentences(exc.detail):
        messages.error(request, sentence)
    return redirect("console:incident", pk=pk)


def _back(pk, statement_id=None):
    response = redirect("console:incident", pk=pk)
    response["Location"] += f"#statement-{statement_id}" if statement_id else "#statements"
    return response


@login_required
@require_POST
def statement_new(request, pk):
    """Save a new draft, or (`preview`) show it as it would read, with the form kept."""
    form = StatementForm(request.POST, prefix="new")
    if not form.is_valid():
        return _page(request, pk, statement_new=form)
    if "preview" in request.POST:
        return _page(request, pk, statement_new=form, statement_preview=form.cleaned_data["body"])
    try:
        statement = statements.statement_create(
            incident_id=pk, principal=Principal.from_request(request), **form.cleaned_data
        )
    except DomainError as exc:
        return _refused(request, pk, exc, form=form, key="statement_new")
    messages.success(request, _("Statement saved as a draft."))
    return _back(pk, statement.pk)


ACTIONS = ("edit", "submit", "approve", "reject", "publish")


@login_required
@require_POST
def statement_action(request, pk, statement_id, action):
    if action not in ACTIONS:
        raise Http404
    principal = Principal.from_request(request)
    ids = {"incident_id": pk, "statement_id": statement_id, "principal": principal}
    if action == "edit":
        form, key = StatementForm(request.POST, prefix=f"s{statement_id}"), f"edit_{statement_id}"
        call = lambda: statements.statement_edit(**ids, **form.cleaned_data)  # noqa: E731
        done = _("Saved as a new version.")
    elif action in ("approve", "reject"):
        form, key = DecisionForm(request.POST, prefix=f"d{statement_id}"), f"decide_{statement_id}"
        call = lambda: statements.statement_decide(  # noqa: E731
            **ids,
            approve=action == "approve",
            comment=form.cleaned_data["comment"],
            version=form.cleaned_data["version"],
        )
        done = _("Approved.") if action == "approve" else _("Rejected: the statement is a draft again.")
    elif action == "publish":
        try:
            statement = statements.statement_of(
                incident_id=pk, statement_id=statement_id, principal=principal
            )
        except DomainError as exc:
            return _refused(request, pk, exc)
        form = PublishForm(request.POST, prefix=f"p{statement_id}", channels=statement.channels)
        key = f"publish_{statement_id}"
        call = lambda: statements.statement_publish(**ids, links=form.links())  # noqa: E731
        done = _("Published.")
    else:
        form, key = None, None
        call = lambda: statements.statement_submit(**ids)  # noqa: E731
        done = _("Submitted for approval.")
    if form is not None and not form.is_valid():
        return _page(request, pk, **{key: form})
    try:
        call()
    except StaleVersion as exc:
        # The page shows the current version now: a second press decides that one.
        form.data = form.data.copy()
        form.data[form.add_prefix("version")] = exc.extra["version"]
        return _refused(request, pk, exc, form=form, key=key)
    except DomainError as exc:
        return _refused(request, pk, exc, form=form, key=key)
    messages.success(request, done)
    return _back(pk, statement_id)
