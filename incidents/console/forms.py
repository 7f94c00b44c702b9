"""Console forms: parsing and validation only; the services do the work."""

from django import forms
from django.utils.translation import gettext_lazy as _

from crisis.models import Role, Severity

from .. import chain, sla


class SlaForm(forms.Form):
    """Two fields per severity: seconds to acknowledge and to resolve."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for severity, label in Severity.choices:
            for kind, kind_label in (("ack", _("acknowledge")), ("resolve", _("resolve"))):
                self.fields[f"{severity}_{kind}_seconds"] = forms.IntegerField(
                    label=f"{label}: {kind_label}", min_value=sla.MIN_SECONDS, max_value=sla.MAX_SECONDS
                )

    def targets(self) -> dict[str, sla.SlaTarget]:
        d = self.cleaned_data
        return {
            sev: sla.SlaTarget(d[f"{sev}_ack_seconds"], d[f"{sev}_resolve_seconds"])
            for sev in Severity.values
        }


class EscalationLevelForm(forms.Form):
    after_seconds = forms.IntegerField(label=_("After (seconds)"), min_value=0, max_value=sla.MAX_SECONDS)
    roles = forms.MultipleChoiceField(
        label=_("Roles"),
        required=False,
        choices=[(r, r) for r in chain.LEVEL_ROLES],
        widget=forms.CheckboxSelectMultiple,
    )
    users = forms.CharField(label=_("Users (comma-separated)"), required=False, max_length=2000)

    def clean_users(self):
        return [u.strip() for u in self.cleaned_data["users"].split(",") if u.strip()]


EscalationLevelFormSet = forms.formset_factory(EscalationLevelForm, extra=1, max_num=chain.MAX_LEVELS)


class RepeatForm(forms.Form):
    repeat = forms.IntegerField(
        label=_("Repeat the chain"), min_value=0, max_value=chain.MAX_REPEAT, initial=0
    )


class MemberForm(forms.Form):
    """The role of someone who is already a member; everyone else is invited by e-mail."""

    username = forms.RegexField(label=_("Username"), regex=r"^[\w.@+-]+\Z", max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    is_executive = forms.BooleanField(label=_("Executive"), required=False)


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    is_executive = forms.BooleanField(label=_("Executive"), required=False)


class InvitationRevokeForm(forms.Form):
    invitation = forms.IntegerField(min_value=1, max_value=2**63 - 1)


class SignUpForm(forms.Form):
    """A new account for someone accepting an invitation; the service applies Django's password validators."""

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
    name = forms.CharField(label=_("Key name"), max_length=100)


class MemberRemoveForm(forms.Form):
    username = forms.RegexField(regex=r"^[\w.@+-]+\Z", max_length=150)


class KeyRevokeForm(forms.Form):
    key = forms.IntegerField(min_value=1, max_value=2**63 - 1)
