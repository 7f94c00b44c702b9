"""
The forms of people's actions on an incident (resolve, reopen, review, reassign, comment,
complete a step), shared by the console and the admin.

Forms parse the shape of the input only; the rules (blank text, lengths, follow-up
limits, who may be assigned) are the services' and come back as `InvalidInput` naming
the field, so the API, the console and the admin cannot disagree.
"""

from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _

from api.text import free_text

from .models import FREE_TEXT_MAX


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
