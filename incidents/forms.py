"""
The forms of people's actions on an incident (resolve, reopen, review, reassign, comment,
complete a step; severity, roles, links, merges and status updates), shared by the console
and the admin.

Forms parse the shape of the input only; the rules (blank text, lengths, follow-up
limits, who may be assigned) are the services' and come back as `InvalidInput` naming
the field, so the API, the console and the admin cannot disagree.
"""

from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _

from api.text import free_text
from crisis.models import Severity

from .messages import ROLE_LABELS
from .models import FREE_TEXT_MAX, Audience


class FreeTextField(forms.CharField):
    """Text people write: NUL is dropped rather than refused (API.md, "Conventions"; `api.text`)."""

    def to_python(self, value):
        value = super().to_python(value)
        return free_text(value) if isinstance(value, str) else value


class ActionForm(forms.Form):
    """A form of an action: a field in error gets the `invalid` class (red border on the page)."""

    error_css_class = "invalid"


class ResolveForm(ActionForm):
    resolution = FreeTextField(
        label=_("Resolution"), widget=forms.Textarea(attrs={"rows": 3}), max_length=FREE_TEXT_MAX
    )


class ReopenForm(ActionForm):
    reason = FreeTextField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), max_length=FREE_TEXT_MAX
    )


class ReassignForm(ActionForm):
    # A username: NUL is refused (a choice field has no such check of its own).
    assignee = forms.ChoiceField(label=_("Hand over to"), validators=[ProhibitNullCharactersValidator()])

    def __init__(self, *args, candidates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [(u, u) for u in candidates]


class ReviewForm(ActionForm):
    summary = FreeTextField(
        label=_("Summary"), widget=forms.Textarea(attrs={"rows": 2}), max_length=FREE_TEXT_MAX
    )
    root_cause = FreeTextField(
        label=_("Root cause"), widget=forms.Textarea(attrs={"rows": 2}), max_length=FREE_TEXT_MAX
    )
    lessons = FreeTextField(
        label=_("Lessons"), widget=forms.Textarea(attrs={"rows": 2}), max_length=FREE_TEXT_MAX
    )
    follow_ups = FreeTextField(
        label=_("Follow-ups, one per line"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=FREE_TEXT_MAX,
    )

    def clean_follow_ups(self):
        return [
            {"title": line.strip()} for line in self.cleaned_data["follow_ups"].splitlines() if line.strip()
        ]


class CommentForm(ActionForm):
    body = FreeTextField(
        label=_("Comment"), widget=forms.Textarea(attrs={"rows": 2}), max_length=FREE_TEXT_MAX
    )


class StepForm(ActionForm):
    note = FreeTextField(label=_("Note"), required=False, max_length=FREE_TEXT_MAX)


# --- Incident command ---------------------------------------------------------------------


class SeverityForm(ActionForm):
    severity = forms.ChoiceField(label=_("New severity"), choices=Severity.choices)
    reason = FreeTextField(label=_("Why"), widget=forms.Textarea(attrs={"rows": 2}), max_length=FREE_TEXT_MAX)
    # Set by the preview's "Confirm": without it the page shows the new deadlines first.
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)


class RoleForm(ActionForm):
    role = forms.ChoiceField(label=_("Role"), choices=list(ROLE_LABELS.items()))
    # Empty: nobody holds the role any more.
    username = forms.ChoiceField(
        label=_("Person"), required=False, validators=[ProhibitNullCharactersValidator()]
    )

    def __init__(self, *args, candidates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].choices = [("", _("— nobody —")), *((u, u) for u in candidates)]

    def clean_username(self):
        return self.cleaned_data["username"] or None


class LinkForm(ActionForm):
    incident = forms.IntegerField(label=_("Incident"), min_value=1, max_value=2**62)


class MergeForm(ActionForm):
    into = forms.IntegerField(label=_("Merge into incident"), min_value=1, max_value=2**62)


class StatusUpdateForm(ActionForm):
    audience = forms.ChoiceField(label=_("To"), choices=Audience.choices, initial=Audience.TEAM)
    body = FreeTextField(
        label=_("Update"), widget=forms.Textarea(attrs={"rows": 3}), max_length=FREE_TEXT_MAX
    )
