"""
Console forms: parsing and validation only; the services do the work.

Every refusal reaches a person as a sentence in their language: `refusal_on_form`
puts a service's domain error on the form it came from (next to the field it names),
and `sentences` is the one place that turns any error detail (a string, DRF's
`ErrorDetail`, a list or a dict of them) into plain sentences, never a Python repr.
"""

import re
from decimal import Decimal

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from api.errors import DomainError
from crisis import shifts, timezones
from crisis.models import Role, Schedule, Severity, ShiftUnit

from .. import chain, sla


def sentences(detail) -> list[str]:
    """Any error detail as plain sentences: strings kept, lists and dicts flattened, keys dropped."""
    if isinstance(detail, dict):
        return [s for value in detail.values() for s in sentences(value)]
    if isinstance(detail, list | tuple):
        return [s for item in detail for s in sentences(item)]
    if isinstance(detail, ValidationError):
        return [str(message) for message in detail.messages]
    text = str(detail).strip()
    return [text] if text else []


def refusal_on_form(form: forms.Form, exc: DomainError) -> None:
    """A service's refusal shown on `form`: next to the field it names, else above the form."""
    field = getattr(exc, "field", None)
    where = field if field in form.fields else None
    form.add_error(where, ValidationError([ValidationError(s, code=exc.code) for s in sentences(exc.detail)]))


# --- Durations: people think in minutes and hours; the desk stores seconds ------------------

UNIT_SECONDS = {"minutes": 60, "hours": 3600}
UNIT_CHOICES = [("minutes", _("minutes")), ("hours", _("hours"))]


def in_units(seconds: int | None) -> list:
    """Seconds as [amount, unit]: whole hours as hours, anything else as minutes (two decimals at most)."""
    if seconds is None:
        return [None, "minutes"]
    if seconds >= 3600 and seconds % 3600 == 0:
        return [seconds // 3600, "hours"]
    # Two decimals of a minute are 0.6 s: the stored whole second always comes back.
    minutes = (Decimal(seconds) / 60).quantize(Decimal("0.01")).normalize()
    return [minutes if minutes != minutes.to_integral() else int(minutes), "minutes"]


class DurationWidget(forms.MultiWidget):
    """An amount and a unit: `<name>` and `<name>_unit` in the posted form."""

    def __init__(self, attrs=None):
        amount = forms.TextInput(attrs={"inputmode": "decimal", "size": 6, "autocomplete": "off"})
        super().__init__({"": amount, "unit": forms.Select(choices=UNIT_CHOICES)}, attrs)

    def decompress(self, value):
        return in_units(value)


class DurationField(forms.MultiValueField):
    """A duration typed in minutes or hours, cleaned to whole seconds."""

    widget = DurationWidget

    def __init__(self, *, min_seconds: int, max_seconds: int, **kwargs):
        self.min_seconds, self.max_seconds = min_seconds, max_seconds
        amount = forms.DecimalField(min_value=0, max_digits=9, decimal_places=2, localize=True)
        unit = forms.ChoiceField(choices=UNIT_CHOICES)
        kwargs.setdefault("localize", True)  # "1,5" in Russian, "1.5" in English
        super().__init__(fields=(amount, unit), require_all_fields=True, **kwargs)

    def has_changed(self, initial, data):
        # A new level's empty row still shows a unit: with no amount it is untouched.
        if initial is None and not (data or [None])[0]:
            return False
        return super().has_changed(initial, data)

    def compress(self, data_list):
        # No amount: no duration (a required field has refused that already).
        if not data_list or data_list[0] is None:
            return None
        amount, unit = data_list
        seconds = round(amount * UNIT_SECONDS[unit])
        if seconds < self.min_seconds:
            raise ValidationError(_("Choose more than zero."), code="min_value")
        if seconds > self.max_seconds:
            raise ValidationError(
                _("Choose at most %(hours)d hours (%(days)d days).")
                % {"hours": self.max_seconds // 3600, "days": self.max_seconds // 86400},
                code="max_value",
            )
        return seconds


# Under this a target leaves nobody time to respond: the form asks whether it is meant.
SHORT_TARGET_SECONDS = 60


class SlaForm(forms.Form):
    """Per severity, the time to acknowledge and to resolve, in minutes or hours."""

    error_css_class = "invalid"

    KINDS = (("ack", _("acknowledge")), ("resolve", _("resolve")))

    confirm_short = forms.BooleanField(
        label=_("Yes, I mean a target under a minute."),
        required=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for severity, label in Severity.choices:
            for kind, kind_label in self.KINDS:
                self.fields[f"{severity}_{kind}"] = DurationField(
                    label=f"{label}: {kind_label}",
                    min_seconds=sla.MIN_SECONDS,
                    max_seconds=sla.MAX_SECONDS,
                )

    @classmethod
    def from_targets(cls, targets: dict[str, sla.SlaTarget]) -> "SlaForm":
        return cls(
            initial={
                f"{sev}_{kind}": getattr(target, f"{kind}_seconds")
                for sev, target in targets.items()
                for kind, _label in cls.KINDS
            }
        )

    def rows(self):
        """(severity label, acknowledge field, resolve field) for the page's table."""
        return [(label, self[f"{sev}_ack"], self[f"{sev}_resolve"]) for sev, label in Severity.choices]

    def asks_to_confirm(self) -> bool:
        """Whether the page shows the confirmation box: only once a short target was typed."""
        return self.has_error(NON_FIELD_ERRORS, code="short_target") or bool(
            self.is_bound and self.data.get("confirm_short")
        )

    def clean(self):
        data = super().clean()
        short = [
            name
            for name, value in data.items()
            if name != "confirm_short" and value is not None and value < SHORT_TARGET_SECONDS
        ]
        if short and not data.get("confirm_short"):
            for name in short:
                self.add_error(name, _("Under a minute."))
            raise ValidationError(
                _(
                    "A target under a minute leaves nobody time to respond. If you mean it, "
                    "tick the box below and save again."
                ),
                code="short_target",
            )
        return data

    def targets(self) -> dict[str, sla.SlaTarget]:
        d = self.cleaned_data
        return {sev: sla.SlaTarget(d[f"{sev}_ack"], d[f"{sev}_resolve"]) for sev in Severity.values}


class UpdatesPolicyForm(forms.Form):
    """
    How often a status update is due per severity (empty: none), and the stakeholders'
    addresses. The addresses are checked by the API's own input (`UpdatesPolicyInput`),
    so the page and `PUT /brands/{slug}/updates-policy/` accept the same policies.
    """

    error_css_class = "invalid"

    stakeholder_emails = forms.CharField(
        label=_("Stakeholders' e-mail addresses (one per line or comma-separated)"),
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for severity, label in Severity.choices:
            self.fields[severity] = DurationField(
                label=label, min_seconds=sla.MIN_SECONDS, max_seconds=sla.MAX_SECONDS, required=False
            )
        self.policy: dict | None = None

    @classmethod
    def from_policy(cls, policy: dict) -> "UpdatesPolicyForm":
        return cls(
            initial={
                **policy["cadence_seconds"],
                "stakeholder_emails": "\n".join(policy["stakeholder_emails"]),
            }
        )

    def cadences(self):
        return [self[severity] for severity, _label in Severity.choices]

    def clean(self):
        from ..serializers import UpdatesPolicyInput

        data = super().clean()
        if self.errors:
            return data
        typed = [email for email in re.split(r"[\s,;]+", data.get("stakeholder_emails") or "") if email]
        # Name the addresses that are not: "Enter a valid email address" alone says not which.
        wrong = [email for email in typed if not _is_email(email)]
        if wrong:
            self.add_error(
                "stakeholder_emails",
                _("Not e-mail addresses: %(addresses)s") % {"addresses": ", ".join(wrong)[:500]},
            )
            return data
        checked = UpdatesPolicyInput(
            data={
                "cadence_seconds": {severity: data.get(severity) for severity, _label in Severity.choices},
                "stakeholder_emails": typed,
            }
        )
        if not checked.is_valid():
            for name, detail in checked.errors.items():
                self.add_error(
                    "stakeholder_emails" if name == "stakeholder_emails" else None, sentences(detail)
                )
            return data
        self.policy = checked.validated_data
        return data


def _is_email(text: str) -> bool:
    try:
        validate_email(text)
    except ValidationError:
        return False
    return len(text) <= 254


# The roles a level may notify, in the people's words (`chain.LEVEL_ROLES` are the codes).
_ROLE_LABELS = {**dict(Role.choices), "executive": _("Executive")}
LEVEL_ROLE_CHOICES = [(code, _ROLE_LABELS[code]) for code in chain.LEVEL_ROLES]


class ReachedPeopleForm(forms.Form):
    """
    Whom a step of a brand's policy reaches: roles, members by username, whoever is on
    call. An escalation level and a statement's approval hop are both such a step.
    """

    error_css_class = "invalid"

    roles = forms.MultipleChoiceField(
        label=_("Roles"),
        required=False,
        choices=LEVEL_ROLE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
    )
    users = forms.CharField(label=_("Users (comma-separated)"), required=False, max_length=2000)
    schedules = forms.TypedMultipleChoiceField(
        label=_("Whoever is on call on"),
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, schedule_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        # The brand's on-call schedules; a brand without any is not offered the field.
        if schedule_choices:
            self.fields["schedules"].choices = schedule_choices
        else:
            del self.fields["schedules"]

    def clean_users(self):
        return [u.strip() for u in self.cleaned_data["users"].split(",") if u.strip()]


class EscalationLevelForm(ReachedPeopleForm):
    field_order = ["after", "roles", "users", "schedules"]

    after = DurationField(
        label=_("After the acknowledgement deadline"), min_seconds=0, max_seconds=sla.MAX_SECONDS
    )


EscalationLevelFormSet = forms.formset_factory(EscalationLevelForm, extra=1, max_num=chain.MAX_LEVELS)


class RepeatForm(forms.Form):
    error_css_class = "invalid"

    repeat = forms.IntegerField(
        label=_("Repeat the chain"), min_value=0, max_value=chain.MAX_REPEAT, initial=0
    )


def schedule_choices(brand) -> list[tuple[int, str]]:
    """The brand's on-call schedules a level may name, by name."""
    return list(Schedule.objects.for_brands([brand.pk]).order_by("name").values_list("pk", "name"))


class EscalationChainForm:
    """
    The chain as the page edits it: one form per level, and how often it repeats.
    Checked by the API's own input (`EscalationChainInput`: a level names someone,
    users are members), so the console and the API accept and refuse the same chains.
    """

    def __init__(self, data=None, *, brand, chain_now: dict | None = None):
        self.brand = brand
        initial = chain_now or {"levels": [], "repeat": 0}
        self.levels = EscalationLevelFormSet(
            data,
            prefix="levels",
            initial=[
                {
                    "after": lvl["after_seconds"],
                    "roles": lvl.get("roles", []),
                    "users": ", ".join(lvl.get("users", [])),
                    "schedules": lvl.get("schedules", []),
                }
                for lvl in initial["levels"]
            ],
            form_kwargs={"schedule_choices": schedule_choices(brand)},
        )
        self.repeat_form = RepeatForm(data, initial={"repeat": initial.get("repeat", 0)})
        self.errors: list[str] = []
        self.chain: dict | None = None

    def is_valid(self) -> bool:
        from ..serializers import EscalationChainInput

        if not (self.levels.is_valid() and self.repeat_form.is_valid()):
            return False
        chosen = [
            {
                "after_seconds": f.cleaned_data["after"],
                "roles": f.cleaned_data["roles"],
                "users": f.cleaned_data["users"],
                "schedules": f.cleaned_data.get("schedules", []),
            }
            for f in self.levels
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        data = EscalationChainInput(
            data={"levels": chosen, "repeat": self.repeat_form.cleaned_data["repeat"]},
            context={"brand": self.brand},
        )
        if not data.is_valid():
            self.errors = sentences(data.errors)
            return False
        self.chain = data.validated_data
        return True


class MemberForm(forms.Form):
    """The role of someone who is already a member; everyone else is invited by e-mail."""

    error_css_class = "invalid"

    username = forms.RegexField(label=_("Username"), regex=r"^[\w.@+-]+\Z", max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    is_executive = forms.BooleanField(label=_("Executive"), required=False)


class InvitationForm(forms.Form):
    error_css_class = "invalid"

    email = forms.EmailField(label=_("E-mail"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    is_executive = forms.BooleanField(label=_("Executive"), required=False)


class InvitationRevokeForm(forms.Form):
    invitation = forms.IntegerField(min_value=1, max_value=2**63 - 1)


class SignUpForm(forms.Form):
    """A new account for someone accepting an invitation; the service applies Django's password validators."""

    error_css_class = "invalid"

    username = forms.RegexField(label=_("Username"), regex=r"^[\w.@+-]+\Z", max_length=150)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, max_length=4096, strip=False)
    password_again = forms.CharField(
        label=_("Password again"), widget=forms.PasswordInput, max_length=4096, strip=False
    )

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password_again") not in (None, data["password"]):
            self.add_error("password_again", _("The two passwords differ."))
        return data


class KeyForm(forms.Form):
    error_css_class = "invalid"

    name = forms.CharField(label=_("Key name"), max_length=100)


class MemberRemoveForm(forms.Form):
    username = forms.RegexField(regex=r"^[\w.@+-]+\Z", max_length=150)


class KeyRevokeForm(forms.Form):
    key = forms.IntegerField(min_value=1, max_value=2**63 - 1)


# --- Replies to start from: the placeholders of one response template -------------------

# The shipped templates' placeholders in people's words; any other name is shown as written.
PLACEHOLDER_LABELS = {
    "customer_name": _("Customer's name"),
    "responder": _("Your name"),
    "brand": _("Brand"),
    "title": _("Incident title"),
    "channel": _("Channel"),
    "incident_id": _("Incident number"),
    "detected_at": _("Detected at"),
    "issue": _("The problem, in their words"),
    "reply_by": _("Answer by (time)"),
    "facts": _("The facts"),
    "sources": _("Sources"),
    "measures": _("What we have done"),
    "alternative_channels": _("Where else to find us"),
    "what_happened": _("What happened"),
    "advice": _("What they should do"),
    "service": _("Service"),
    "status": _("Status"),
    "next_update": _("Next update by"),
}


class ReplyForm(forms.Form):
    """One text field per placeholder of a template, prefilled with what the incident knows."""

    def __init__(self, *args, names: list[str], known: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        for name in names:
            self.fields[name] = forms.CharField(
                label=PLACEHOLDER_LABELS.get(name, name.replace("_", " ")),
                required=False,
                max_length=5000,
                initial=known.get(name, ""),
                widget=forms.TextInput(attrs={"data-placeholder": name, "autocomplete": "off"}),
            )

    def values(self) -> dict[str, str]:
        """What the person typed, for the placeholders they filled."""
        if not self.is_valid():
            return {}
        return {name: value for name, value in self.cleaned_data.items() if value.strip()}


# --- On-call schedules: a schedule's layers, overrides and "take this shift" -----------------

# A restriction as a person types it: "mon-fri 09:00-18:00", "sat,sun 10:00-16:00".
RESTRICTION_LINE = re.compile(
    r"^(?P<days>[a-z][a-z ,\-]*?)\s+(?P<from>\d{1,2}:\d{2})\s*-\s*(?P<to>\d{1,2}:\d{2})$"
)


def _local_input(**attrs):
    """A date and time typed in the viewer's zone (the active one, which the field applies)."""
    return forms.DateTimeInput(attrs={"type": "datetime-local", **attrs}, format="%Y-%m-%dT%H:%M")


def restriction_lines(restrictions: list[dict]) -> str:
    """Stored restrictions as the form shows them, one per line: "mon-fri 09:00-18:00"."""
    return "\n".join(f"{_day_ranges(r['days'])} {r['from']}-{r['to']}" for r in restrictions)


def _day_ranges(days: list[str]) -> str:
    """["mon", "tue", "wed", "sat"] as "mon-wed,sat"."""
    numbers = sorted(shifts.DAYS.index(d) for d in days)
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ",".join(
        shifts.DAYS[r[0]] if len(r) == 1 else f"{shifts.DAYS[r[0]]}-{shifts.DAYS[r[-1]]}" for r in runs
    )


def _days_of(text: str) -> list[str]:
    """ "mon-fri,sun" as ["mon", …, "fri", "sun"]; a range may run past Sunday ("fri-mon")."""
    found: list[str] = []
    for token in re.split(r"[\s,]+", text.strip()):
        first, _dash, last = token.partition("-")
        if first not in shifts.DAYS or (last and last not in shifts.DAYS):
            raise ValidationError(
                _("Unknown day “%(day)s”: use mon, tue, wed, thu, fri, sat, sun."), params={"day": token}
            )
        a = shifts.DAYS.index(first)
        b = shifts.DAYS.index(last) if last else a
        for k in range((b - a) % 7 + 1):
            day = shifts.DAYS[(a + k) % 7]
            if day not in found:
                found.append(day)
    return found


class LayerForm(forms.Form):
    """One layer as the page edits it; the API's `LayerInput` judges what it makes."""

    error_css_class = "invalid"

    name = forms.CharField(label=_("Layer name"), required=False, max_length=100)
    users = forms.CharField(
        label=_("People, in rotation order (one per line or comma-separated)"),
        required=False,
        max_length=8000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    start = forms.DateTimeField(label=_("First hand-off (your time)"), widget=_local_input())
    every = forms.IntegerField(label=_("Shift length"), min_value=1, max_value=1000, initial=1)
    unit = forms.ChoiceField(label=_("Unit"), choices=ShiftUnit.choices, initial=ShiftUnit.DAYS)
    restrictions = forms.CharField(
        label=_("Only at these times (optional), one per line, e.g. mon-fri 09:00-18:00"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean_users(self):
        return [u for u in re.split(r"[\s,]+", self.cleaned_data["users"]) if u]

    def clean_restrictions(self):
        found = []
        for line in self.cleaned_data["restrictions"].lower().splitlines():
            if not line.strip():
                continue
            match = RESTRICTION_LINE.match(line.strip())
            if match is None:
                raise ValidationError(
                    _("“%(line)s” is not like “mon-fri 09:00-18:00”."), params={"line": line.strip()[:100]}
                )
            found.append(
                {
                    "days": _days_of(match["days"]),
                    "from": match["from"].zfill(5),
                    "to": match["to"].zfill(5),
                }
            )
        return found

    def shape(self) -> dict:
        """The layer as the API takes it."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "users": data["users"],
            "start": data["start"].isoformat(),
            "shift": {"every": data["every"], "unit": data["unit"]},
            "restrictions": data["restrictions"],
        }


LayerFormSet = forms.formset_factory(LayerForm, extra=1, max_num=10, can_delete=True)

# Where the API names a layer's error, the field of the page that shows it.
LAYER_FIELDS = {
    "name": "name",
    "users": "users",
    "start": "start",
    "shift": "every",
    "restrictions": "restrictions",
}


class ScheduleForm:
    """
    A schedule as the page edits it: name, zone, one form per layer (and one to add).
    Checked by the API's own input (`ScheduleInput`) and saved by the API's services, so
    the console and the API accept and refuse the same schedules.
    """

    def __init__(self, data=None, *, schedule=None):
        initial_layers = []
        if schedule is not None:
            initial_layers = [
                {
                    "name": layer.name,
                    "users": "\n".join(place.user.get_username() for place in layer.members.all()),
                    "start": layer.start,
                    "every": layer.shift_every,
                    "unit": layer.shift_unit,
                    "restrictions": restriction_lines(layer.restrictions),
                }
                for layer in schedule.layers.all()
            ]
        self.head = ScheduleHeadForm(
            data,
            initial={"name": schedule.name, "time_zone": schedule.time_zone} if schedule else None,
        )
        self.layers = LayerFormSet(data, prefix="layers", initial=initial_layers)
        self.errors: list[str] = []
        self.validated: dict | None = None

    def is_valid(self) -> bool:
        from crisis.serializers import ScheduleInput

        if not (self.head.is_valid() and self.layers.is_valid()):
            return False
        # The blank form for a new layer, left blank, has no cleaned data: it is no layer.
        chosen = [f for f in self.layers if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if not chosen:
            self.errors = [str(_("A schedule needs at least one layer."))]
            return False
        data = ScheduleInput(data={**self.head.cleaned_data, "layers": [f.shape() for f in chosen]})
        if data.is_valid():
            self.validated = data.validated_data
            return True
        for name, errors in data.errors.items():
            if name == "layers" and isinstance(errors, list) and any(isinstance(e, dict) for e in errors):
                for form, layer_errors in zip(chosen, errors, strict=False):
                    for key, detail in (layer_errors or {}).items():
                        form.add_error(LAYER_FIELDS.get(key), sentences(detail))
            elif name in self.head.fields:
                self.head.add_error(name, sentences(errors))
            else:
                self.errors += sentences(errors)
        return False

    def refuse(self, exc: DomainError) -> None:
        """A service's refusal: on the name, else above the layers."""
        if getattr(exc, "field", None) in self.head.fields:
            refusal_on_form(self.head, exc)
        else:
            self.errors += sentences(exc.detail)


class ScheduleHeadForm(forms.Form):
    error_css_class = "invalid"

    name = forms.CharField(label=_("Schedule name"), max_length=100)
    time_zone = forms.ChoiceField(label=_("Time zone of the hand-offs and restrictions"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = timezones.grouped_choices()


class OverrideForm(forms.Form):
    """A manager puts someone on call for a while; times in the viewer's zone."""

    error_css_class = "invalid"

    user = forms.ChoiceField(label=_("Who"))
    start = forms.DateTimeField(label=_("From (your time)"), widget=_local_input())
    end = forms.DateTimeField(label=_("Until (your time)"), widget=_local_input())

    def __init__(self, *args, candidates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [(u, u) for u in candidates]


class TakeShiftForm(forms.Form):
    """ "Take this shift": the instants of the shift, as the page wrote them (ISO, with offset)."""

    start = forms.DateTimeField()
    end = forms.DateTimeField()


class OverrideRemoveForm(forms.Form):
    override = forms.IntegerField(min_value=1, max_value=2**63 - 1)
