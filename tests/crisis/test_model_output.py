"""
`FieldsBuiltOnce` (behind `ModelOutput` and `StrictInput`) builds a serializer's fields
once per class and gives each instance shallow copies of them (crisis/serializers.py).
These tests hold it to what DRF's own per-instance build and deep copy produce, for
output and for input (valid and invalid), and check that instances never share a bound
field.
"""

import threading
from datetime import date

import pytest
from rest_framework import serializers

from api.serializers import FieldsBuiltOnce, ModelOutput, StrictInput
from crisis.tenancy import Principal
from incidents import services
from incidents.selectors import incidents_for_display, timeline_of
from incidents.serializers import (
    FollowUpOutput,
    IncidentInput,
    IncidentOutput,
    ReviewInput,
    SlaPolicyInput,
    TimelineEventOutput,
)
from playbooks.models import ChecklistStep
from playbooks.serializers import ChecklistStepOutput, PlaybookInput

pytestmark = pytest.mark.django_db


def drf_built(serializer_class):
    """The same serializer with DRF's own get_fields: built and deep-copied per instance."""
    drf_base = (
        serializers.ModelSerializer
        if issubclass(serializer_class, serializers.ModelSerializer)
        else serializers.Serializer
    )
    return type(
        f"Drf{serializer_class.__name__}",
        (serializer_class,),
        {
            "get_fields": drf_base.get_fields,
        },
    )


@pytest.fixture
def reviewed(file_incident, incident_in, alice, bob):
    incident = file_incident(category="data_leak", severity="critical", channel="vk", dedup_key="leak-1")
    incident = incident_in(incident, "resolved", manager=alice, responder=bob)
    services.incident_review(
        incident_id=incident.pk,
        principal=Principal.for_user(alice),
        summary="Answered in time",
        root_cause="A promo post",
        lessons="Check promos with legal",
        follow_ups=[{"title": "Brief the SMM team", "owner": "bob", "due_date": date(2026, 12, 1)}],
    )
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
        assert serializer_class(rows, many=True).data == drf_built(serializer_class)(rows, many=True).data


def test_each_instance_binds_its_own_fields():
    first, second = IncidentOutput(), IncidentOutput()
    for name in ("state", "brand", "steps", "detected_at"):
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first and second.fields[name].parent is second
    # The class's templates stay unbound, whatever instances did with their copies.
    assert IncidentOutput._field_templates["state"][0].parent is None


class Wrapper(serializers.Field):
    """A custom field holding another field under a name DRF does not use."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner
        self.inner.bind(field_name="", parent=self)


class NestedOutput(ModelOutput):
    """Fields with children of their own: list, dict, many-related, nested, custom."""

    tags = serializers.ListField(child=serializers.CharField(), source="description", read_only=True)
    data = serializers.DictField(child=serializers.CharField(), source="note", read_only=True)
    people = serializers.SlugRelatedField(
        slug_field="username", source="completed_by", many=True, read_only=True
    )
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


# --- input ---------------------------------------------------------------------------

INPUT_CASES = [
    (
        IncidentInput,
        {
            "brand": "acme",
            "title": "Wave",
            "category": "negative_wave",
            "severity": "high",
            "channel": "vk",
            "source_url": "https://vk.com/wall-1_2",
            "reach": 5,
            "dedup_key": "k",
            "detected_at": "2026-01-02T03:04:05Z",
        },
    ),
    (IncidentInput, {"brand": "acme", "title": ""}),
    (
        IncidentInput,
        {
            "brand": "nope",
            "title": "x",
            "severity": "apocalyptic",
            "reach": "many",
            "detected_at": "2999-01-01T00:00:00Z",
            "colour": "red",
        },
    ),
    (
        ReviewInput,
        {
            "summary": "s",
            "root_cause": "r",
            "lessons": "l",
            "follow_ups": ["Brief the team", {"title": "Legal", "due_date": "2026-12-01"}],
        },
    ),
    (
        ReviewInput,
        {
            "summary": "s",
            "root_cause": "r",
            "lessons": "l",
            "follow_ups": [{"title": ""}, {"due_date": "soon"}],
        },
    ),
    (
        SlaPolicyInput,
        {
            level: {"ack_seconds": 600, "resolve_seconds": 3600}
            for level in ("critical", "high", "medium", "low")
        },
    ),
    (SlaPolicyInput, {"critical": {"ack_seconds": -1}, "high": "fast"}),
    (
        PlaybookInput,
        {
            "brand": "acme",
            "name": "Leak",
            "category": "data_leak",
            "severities": ["high", "critical", "high"],
            "steps": [{"title": "Stop the leak", "due_after_seconds": 600}],
        },
    ),
    (
        PlaybookInput,
        {
            "brand": 7,
            "name": "",
            "category": "x",
            "severities": ["bad"],
            "steps": [{"title": "t", "due_after_seconds": -5, "extra": 1}],
        },
    ),
]


def drf_result(serializer_class, payload, context, monkeypatch):
    """What DRF's own build gives, nested and listed serializers included."""
    with monkeypatch.context() as patch:
        # Every FieldsBuiltOnce (the nested ones too) falls through to DRF's get_fields.
        patch.setattr(FieldsBuiltOnce, "get_fields", lambda self: super(FieldsBuiltOnce, self).get_fields())
        theirs = serializer_class(data=payload, context=context)
        theirs.is_valid()
        return theirs.errors, (theirs.validated_data if not theirs.errors else None)


def our_result(serializer_class, payload, context):
    ours = serializer_class(data=payload, context=context)
    ours.is_valid()
    return ours.errors, (ours.validated_data if not ours.errors else None)


@pytest.mark.parametrize(
    "serializer_class,payload",
    INPUT_CASES,
    ids=[f"{case[0].__name__}-{n}" for n, case in enumerate(INPUT_CASES)],
)
def test_input_equals_drfs_own_build(serializer_class, payload, bob, monkeypatch):
    context = {"principal": Principal.for_user(bob)}
    expected = drf_result(serializer_class, payload, context, monkeypatch)
    # The first run builds the templates (nested ones too); the second uses them again:
    # a field that kept state from an earlier instance would show there.
    assert our_result(serializer_class, payload, context) == expected
    assert our_result(serializer_class, payload, context) == expected


def test_inputs_validated_by_many_threads_at_once_match_drf(bob, monkeypatch):
    """gunicorn runs four threads per process over the same templates."""
    context = {"principal": Principal.for_user(bob)}
    # Those that read no brand: another thread's connection does not see the test's rows.
    cases = [case for case in INPUT_CASES if case[0] not in (IncidentInput, PlaybookInput)]
    expected = [drf_result(cls, payload, context, monkeypatch) for cls, payload in cases]
    barrier, mismatches = threading.Barrier(8), []

    def validate_all():
        barrier.wait()
        for _ in range(25):
            for (cls, payload), want in zip(cases, expected, strict=True):
                if our_result(cls, payload, context) != want:
                    mismatches.append(cls.__name__)

    threads = [threading.Thread(target=validate_all) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert mismatches == []


def test_a_changed_validator_stays_on_its_instance():
    first, second = IncidentInput(), IncidentInput()
    first.fields["title"].validators.append(lambda value: None)
    first.fields["title"].error_messages["blank"] = "changed"
    assert len(second.fields["title"].validators) == len(first.fields["title"].validators) - 1
    assert IncidentInput().fields["title"].error_messages["blank"] != "changed"


class Pair(serializers.Field):
    """A custom field holding its fields in a list."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.parts = [serializers.CharField(), serializers.CharField()]
        for part in self.parts:
            part.bind(field_name="", parent=self)


class WithPair(StrictInput):
    pair = Pair(required=False)


def test_fields_held_in_a_list_are_deep_copied():
    first, second = WithPair(), WithPair()
    assert first.fields["pair"].parts[0] is not second.fields["pair"].parts[0]
    assert first.fields["pair"].parts[0].parent is first.fields["pair"]


class MutableDefault(StrictInput):
    tags = serializers.JSONField(default={})  # a mutable default on purpose: the case under test
    name = serializers.CharField(default="x")


def test_mutable_defaults_are_not_shared():
    first, second = MutableDefault(data={}), MutableDefault(data={})
    assert first.is_valid() and second.is_valid()
    assert first.validated_data["tags"] == {}
    assert first.validated_data["tags"] is not second.validated_data["tags"]
    assert first.fields["name"] is not second.fields["name"]
    assert first.fields["name"].parent is first and second.fields["name"].parent is second
