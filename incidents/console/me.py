"""
"My notifications" (`/me/`): a person's own language and time zone, their channels
(added, tested through the outbox, removed), and what the desk will send them.

The writes go through the same services as `/api/v1/me/` and `/api/v1/me/channels/`
(`crisis.services.profile_update`, `outbox.contact_channel_add`), so the page and the
API refuse the same things with the same sentences.
"""

from datetime import datetime, timedelta

from django import forms
from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from api.errors import DomainError, InvalidInput
from crisis import services as crisis_services
from crisis import timezones
from crisis.models import Brand, Role
from crisis.selectors import viewer_settings

from .. import chain as chains
from .. import messages, outbox
from ..models import ChannelKind, ContactChannel, EscalationPolicy, Incident, Notification, State
from ..models import NotificationStatus as Status
from ..serializers import ContactChannelInput
from ..templatetags.desk import duration
from .forms import refusal_on_form

# --- Forms ------------------------------------------------------------------------------


class SettingsForm(forms.Form):
    language = forms.ChoiceField(label=gettext_lazy("Language"), required=False)
    # A list of the zones, checked against every zone name: an old alias set through the
    # API (US/Eastern) is not listed but stays valid, and is added to the list when it is mine.
    time_zone = forms.CharField(label=gettext_lazy("Time zone"), required=False, max_length=64)

    def __init__(self, *args, brand_zone_label: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("As my browser asks")), *settings.LANGUAGES]
        zones = [("", brand_zone_label), *timezones.grouped_choices()]
        current = self.initial.get("time_zone") or ""
        if current and current not in {name for _group, names in zones[1:] for name, _label in names}:
            zones.insert(1, (current, current))
        self.fields["time_zone"].widget = forms.Select(choices=zones)

    def clean_time_zone(self):
        zone = self.cleaned_data["time_zone"]
        if zone and zone not in timezones.names():
            raise forms.ValidationError(timezones.INVALID)
        return zone


class ChannelForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Channel"), choices=ChannelKind.choices)
    target = forms.CharField(
        label=gettext_lazy("Address or URL"),
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "you@example.com · https://… · tgram://…"}),
    )

    def clean(self):
        # The API's shape rules (ContactChannelInput) for the same fields: one rule, two doors.
        data = super().clean()
        if self.errors:
            return data
        shapes = ContactChannelInput(data={"kind": data["kind"], "target": data["target"]})
        if not shapes.is_valid():
            for field, errors in shapes.errors.items():
                for error in errors:
                    self.add_error(field if field in self.fields else None, str(error))
        return data


class ChannelChoiceForm(forms.Form):
    channel = forms.IntegerField(min_value=1, max_value=2**63 - 1)


# --- What the desk sends me -------------------------------------------------------------

# Who hears about what, besides escalation levels: (the roles told, what happened).
# incidents/clock.py decides whom it tells; keep this list in step with it.
RESPONDER, MANAGER = {Role.RESPONDER}, {Role.MANAGER}
ALERTS = [
    (RESPONDER, gettext_lazy("An unclaimed incident has used %(share)s of its acknowledgement window")),
    (RESPONDER | MANAGER, gettext_lazy("A checklist step is overdue on an incident assigned to you")),
    (RESPONDER, gettext_lazy("A checklist step is overdue on an incident nobody has claimed")),
    (MANAGER, gettext_lazy("An incident is not resolved by its deadline")),
    (MANAGER, gettext_lazy("A resolved incident has waited %(review)s for its review")),
    (MANAGER, gettext_lazy("An escalation level reaches no one: the brand's managers are told instead")),
]


def _level_reaches_me(level, role: str, is_executive: bool, username: str) -> str:
    """Why a level of a chain reaches me ("" if it does not): by my role, as an executive, by name."""
    if username in level.users:
        return _("by name")
    if role in level.roles:
        return _("as %(role)s") % {"role": Role(role).label.lower()}
    if is_executive and "executive" in level.roles:
        return _("as an executive")
    return ""


def what_reaches_me(user, memberships) -> list[dict]:
    """Per brand I belong to: my role and every occasion the desk notifies me of (two queries)."""
    brand_ids = [m.brand_id for m in memberships]
    chains_by_brand = {
        policy.brand_id: policy.chain for policy in EscalationPolicy.objects.for_brands(brand_ids)
    }
    share = f"{round(settings.SLA_WARNING_SHARE * 100)} %"
    review = duration(settings.REVIEW_REMINDER_SECONDS)
    result = []
    for membership in memberships:
        chain = chains_by_brand.get(membership.brand_id, chains.DEFAULT_CHAIN)
        levels = []
        for step in chains.steps(chain):
            why = _level_reaches_me(step, membership.role, membership.is_executive, user.get_username())
            if why:
                levels.append({"step": step, "after": duration(step.offset_seconds), "why": why})
        alerts = [
            str(text) % {"share": share, "review": review}
            for roles, text in ALERTS
            if membership.role in roles
        ]
        result.append({"membership": membership, "levels": levels, "alerts": alerts})
    return result


def sample_message(user, brand: Brand, now: datetime) -> dict:
    """An escalation e-mail as the desk would write it, about a made-up incident of `brand`."""
    incident = Incident(
        pk=0,
        brand=brand,
        title=_("Angry comments under the promo post"),
        severity="high",
        category="negative_wave",
        state=State.DETECTED,
        detected_at=now - timedelta(minutes=20),
        ack_due_at=now - timedelta(minutes=5),
    )
    labels = messages.display_labels()
    return {
        "subject": messages.subject("escalated", incident, level=1),
        "body": messages.body(incident, labels),
    }


# --- Pages ------------------------------------------------------------------------------


# How many of a person's latest test messages the page lists.
TESTS_SHOWN = 5


def _tests_of(user) -> dict:
    """
    The person's latest test messages (theirs, across their brands), newest first, with their
    outcome; `tests_waiting` while one is still on its way (the page then refreshes them).
    """
    rows = Notification.all_brands.filter(recipient=user, reason=outbox.TEST_REASON).order_by(
        "-created_at", "-pk"
    )[:TESTS_SHOWN]
    tests = [{"notification": row, "state": test_state(row)} for row in rows]
    return {"tests": tests, "tests_waiting": any(t["state"] in ("pending", "retrying") for t in tests)}


def _zone_label(memberships) -> str:
    """The time zone option meaning "not chosen", naming what it then is."""
    zones = sorted({m.brand.time_zone for m in memberships})
    if len(zones) == 1:
        return _("My brand's: %(zone)s") % {"zone": zones[0]}
    if zones:
        return _("Each brand's own (%(zones)s); UTC across brands") % {"zones": ", ".join(zones)}
    return _("UTC (no brand yet)")


def _page(request, *, settings_form=None, channel_form=None, status=200):
    user = request.user
    chosen = getattr(request, "viewer", None) or viewer_settings(user)
    memberships = list(user.memberships.select_related("brand").order_by("brand__name"))
    channels = list(ContactChannel.objects.filter(user=user).order_by("created_at", "pk"))
    now = timezone.now()
    sample_brand = memberships[0].brand if memberships else None
    return render(
        request,
        "console/me.html",
        {
            "settings_form": settings_form
            or SettingsForm(
                initial={"language": chosen.language, "time_zone": chosen.time_zone},
                brand_zone_label=_zone_label(memberships),
            ),
            "channel_form": channel_form or ChannelForm(),
            "channels": channels,
            **_tests_of(user),
            "reaches": what_reaches_me(user, memberships),
            "sample": sample_message(user, sample_brand, now) if sample_brand else None,
            "sample_brand": sample_brand,
            "zone_now": now,
            "zone_name": timezone.get_current_timezone_name(),
            "fallback_email": user.email if not channels else "",
        },
        status=status,
    )


@login_required
def page(request):
    """The person's settings, channels, test messages and what the desk sends them."""
    return _page(request)


@login_required
def tests_fragment(request):
    """The test messages' outcomes alone, for the page's htmx refresh while one is on its way."""
    return render(request, "console/_me_tests.html", _tests_of(request.user))


@login_required
@require_POST
def settings_save(request):
    memberships = list(request.user.memberships.select_related("brand"))
    form = SettingsForm(request.POST, brand_zone_label=_zone_label(memberships))
    if not form.is_valid():
        return _page(request, settings_form=form, status=400)
    try:
        crisis_services.profile_update(user=request.user, **form.cleaned_data)
    except InvalidInput as exc:
        refusal_on_form(form, exc)
        return _page(request, settings_form=form, status=400)
    language = form.cleaned_data["language"]
    with translation.override(language or request.LANGUAGE_CODE):
        flash.success(request, _("Your language and time zone are saved."))
    response = redirect("console:me")
    # The header's language switch remembers its pick in a cookie, which wins over this
    # setting: the pick made here becomes this browser's too.
    if language:
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, samesite="Lax")
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
    return response


@login_required
@require_POST
def channel_add(request):
    form = ChannelForm(request.POST)
    if not form.is_valid():
        return _page(request, channel_form=form, status=400)
    try:
        outbox.contact_channel_add(user=request.user, **form.cleaned_data)
    except InvalidInput as exc:
        refusal_on_form(form, exc)
        return _page(request, channel_form=form, status=400)
    flash.success(request, _("Channel added. Send it a test to see that it works."))
    return redirect("console:me")


def _my_channel(request) -> ContactChannel | None:
    """The posted channel if it is the caller's; None for anyone else's, a removed or a malformed one."""
    form = ChannelChoiceForm(request.POST)
    if not form.is_valid():
        return None
    return ContactChannel.objects.filter(user=request.user, pk=form.cleaned_data["channel"]).first()


@login_required
@require_POST
def channel_remove(request):
    """Someone else's, an already removed or a malformed channel changes nothing and says so."""
    channel = _my_channel(request)
    if channel is None:
        flash.error(request, _("No such channel of yours."))
    else:
        channel.delete()
        flash.success(request, _("Channel removed."))
    return redirect("console:me")


@login_required
@require_POST
def channel_test(request):
    """Write a test message to the outbox; the page then shows whether it was delivered."""
    channel = _my_channel(request)
    if channel is None:
        flash.error(request, _("No such channel of yours."))
        return redirect("console:me")
    try:
        outbox.contact_channel_test(channel=channel, now=timezone.now())
    except DomainError as exc:
        flash.error(request, str(exc.detail))
    else:
        flash.info(request, _("Test message on its way to %(target)s.") % {"target": channel.target})
    return redirect("console:me")


def test_state(notification: Notification) -> str:
    """sent, failed, retrying (an attempt failed, more to come) or pending (not tried yet)."""
    if notification.status == Status.SENT:
        return "sent"
    if notification.status == Status.FAILED:
        return "failed"
    return "retrying" if notification.attempts else "pending"
