"""
`ModelOutput` builds a serializer's fields once per class and gives each instance
shallow copies of them (crisis/serializers.py). These tests hold it to what DRF's own
per-instance build and deep copy produce, and check that instances never share a
bound field.
"""

from datetime import date

import pytest
from rest_framework import serializers

from crisis.serializers import ModelOutput
from crisis.tenancy import Principal
from incidents import services
from incidents.selectors import incidents_for_display, timeline_of
from incidents.serializers import FollowUpOutput, IncidentOutput, TimelineEventOutput
from playbooks.models import ChecklistStep
from playbooks.serializers import ChecklistStepOutput

pytestmark = pytest.mark.django_db


def drf_built(serializer_class):
    """The same serializer with DRF's own get_fields: built and deep-copied per instance."""
    return type(f"Drf{serializer_class.__name__}", (serializer_class,), {
        "get_fields": serializers.ModelSerializer.get_fields,
    })


@pytest.fixture
def reviewed(file_incident, incident_in, alice, bob):
    incident = file_incident(category="data_leak", severity="critical", channel="vk",
                             dedup_key="leak-1")
    incident = incident_in(incident, "resolved", manager=alice, responder=bob)
    services.incident_review(
        incident_id=incident.pk, principal=Principal.for_user(alice), summary="Answered in time",
        root_cause="A promo post", lessons="Check promos with legal",
        follow_ups=[{"title": "Brief the SMM team", "owner": "bob", "due_date": date(2026, 12, 1)}])
    return incident


def test_output_equals_drfs_own_build(reviewed, alice):
    incident = incidents_for_display(Principal.for_user(alice)).get(pk=reviewed.pk)
    context = {"principal": Principal.for_user(alice)}
    ours = IncidentOutput(incident, context=context).data
    assert ours == drf_built(IncidentOutput)(incident, context=context).data
    assert ours["state"] == "reviewed" and ours["steps"] and ours["review"]["follow_ups"]

    for serializer_class, rows in [
        (ChecklistStepOutput, list(incident.checklist.all())),
        (FollowUpOutput, list(incident.follow_ups.all())),
        (TimelineEventOutput, list(timeline_of(incident))),
    ]:
        assert rows, serializer_class
        assert (serializer_class(rows, many=True).data
                == drf_built(serializer_class)(rows, many=True).data)


def test_each_instance_binds_its_own_fields():
    first, second = IncidentOutput(), IncidentOutput()
    for name in ("state", "brand", "steps", "detected_at"):
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first and second.fields[name].parent is second
    # The class's templates stay unbound, whatever instances did with their copies.
    assert IncidentOutput._built_fields["state"].parent is None


class Wrapper(serializers.Field):
    """A custom field holding another field under a name DRF does not use."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner
        self.inner.bind(field_name="", parent=self)


class NestedOutput(ModelOutput):
    """Fields with children of their own: list, dict, many-related, nested, custom."""

    tags = serializers.ListField(child=serializers.CharField(), source="description",
                                 read_only=True)
    data = serializers.DictField(child=serializers.CharField(), source="note", read_only=True)
    people = serializers.SlugRelatedField(slug_field="username", source="completed_by",
                                          many=True, read_only=True)
    step = ChecklistStepOutput(source="*", read_only=True)
    wrapped = Wrapper(serializers.CharField(), source="title", read_only=True)

    class Meta:
        model = ChecklistStep
        fields = ["title", "tags", "data", "people", "step", "wrapped"]
        read_only_fields = fields


CHILD = {"tags": "child", "data": "child", "people": "child_relation", "wrapped": "inner"}


def test_fields_with_children_are_deep_copied():
    first, second = NestedOutput(), NestedOutput()
    for name, attribute in CHILD.items():
        mine, theirs = getattr(first.fields[name], attribute), getattr(second.fields[name], attribute)
        assert mine is not theirs
        assert mine.parent is first.fields[name] and theirs.parent is second.fields[name]
    assert first.fields["step"] is not second.fields["step"]
    assert first.fields["step"].fields["title"].root is first
    assert second.fields["step"].fields["title"].root is second


class TitleOnly(IncidentOutput):
    class Meta(IncidentOutput.Meta):
        fields = ["id", "title"]
        read_only_fields = fields


def test_each_class_keeps_its_own_fields():
    IncidentOutput().fields  # noqa: B018  (builds the parent class's fields first)
    assert list(TitleOnly().fields) == ["id", "title"]
    assert "state" in IncidentOutput().fields
