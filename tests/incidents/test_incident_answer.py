"""
`incident_answer` builds one incident's answer by hand (the filing, detail and transition
endpoints); `IncidentOutput` is the documented shape and the schema's source. These tests
hold the two to the same answer, key order included, for incidents in every state, with
and without an assignee, a reporter, completed steps and a review, as each kind of caller
sees them.
"""

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from crisis.tenancy import Principal
from incidents import services
from incidents.filing import incident_file
from incidents.models import Incident
from incidents.selectors import incidents_for_display
from incidents.serializers import IncidentOutput, incident_answer
from playbooks.models import ChecklistStep

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
STATES = ["detected", "acknowledged", "investigated", "resolved", "reviewed"]


def as_json(data) -> str:
    return JSONRenderer().render(data).decode()


def assert_same_answer(incident, principal, **answer_kwargs):
    expected = IncidentOutput(incident, context={"principal": principal, "now": NOW}).data
    ours = incident_answer(incident, principal=principal, now=NOW, **answer_kwargs)
    assert ours == expected
    assert as_json(ours) == as_json(expected)  # same keys in the same order, same texts


@pytest.fixture
def incidents(file_incident, incident_in, acme, acme_key, alice, bob, dave):
    """Incidents in every state, filed by people and by a key, with and without their extras."""
    made = []
    with time_machine.travel(NOW - timedelta(hours=5), tick=False):
        for i, state in enumerate(STATES):
            by_key = incident_file(
                principal=Principal.for_key(acme_key),
                brand=acme,
                title=f"Key-filed {state}",
                category="fake_news",
                severity="critical",
                channel="vk",
                source_url="https://vk.com/wall-1_2",
                reach=10**12,
                dedup_key=f"wave-{i}",
                detected_at=NOW - timedelta(hours=6),
            ).incident
            plain = file_incident(title=f"Plain {state}", description="Под постом «акции» злые комментарии")
            made += [incident_in(by_key, state, manager=alice, responder=bob)]
            made += [incident_in(plain, state, manager=alice, responder=dave)]
        # A duplicate report counted on an open one, and one step done with a note.
        incident_file(principal=Principal.for_key(acme_key), brand=acme, title="Again", dedup_key="wave-0")
        step = ChecklistStep.all_brands.filter(incident=made[0]).order_by("position").first()
        services.incident_step_complete(
            incident_id=made[0].pk, step_id=step.pk, principal=Principal.for_user(bob), note="Replied"
        )
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        reviewed = file_incident(title="Reviewed with follow-ups", severity="low")
        reviewed = incident_in(reviewed, "resolved", manager=alice, responder=bob)
        services.incident_review(
            incident_id=reviewed.pk,
            principal=Principal.for_user(alice),
            summary="Answered in time",
            root_cause="A promo post",
            lessons="Check promos with legal",
            follow_ups=[
                {"title": "Brief the SMM team", "owner": "bob", "due_date": date(2026, 12, 1)},
                {"title": "Update the FAQ"},
            ],
        )
        follow_up = reviewed.follow_ups.order_by("id").first()
        services.incident_follow_up_done(
            incident_id=reviewed.pk, follow_up_id=follow_up.pk, principal=Principal.for_user(bob)
        )
    return [*made, reviewed]


@pytest.mark.parametrize("caller", ["alice", "bob", "dave", "carol", "key", "root"])
def test_the_answer_is_the_serializers_for_every_incident_and_caller(caller, incidents, request, acme_key):
    principal = (
        Principal.for_key(acme_key)
        if caller == "key"
        else Principal.for_user(request.getfixturevalue(caller))
    )
    rows = list(incidents_for_display(Principal(is_superuser=True)).filter(pk__in=[i.pk for i in incidents]))
    assert {row.state for row in rows} == set(STATES)
    assert any(row.duplicate_count for row in rows) and any(row.assignee_id for row in rows)
    assert any(step.completed_by_id for row in rows for step in row.checklist.all())
    for row in rows:
        assert_same_answer(row, principal)
        assert_same_answer(row, principal, checklist=list(row.checklist.all()))


def test_the_answer_follows_the_current_time_zone(incidents, alice):
    row = incidents_for_display(Principal(is_superuser=True)).get(pk=incidents[-1].pk)
    with timezone.override("Asia/Vladivostok"):
        assert_same_answer(row, Principal.for_user(alice))
        assert incident_answer(row, principal=Principal.for_user(alice))["detected_at"].endswith("+10:00")


def test_no_reporter_and_a_blank_channel(file_incident, alice):
    incident = file_incident(title="Its reporter's key was deleted (SET_NULL)")
    Incident.all_brands.filter(pk=incident.pk).update(reported_by_user=None, reported_by_key=None)
    row = incidents_for_display(Principal(is_superuser=True)).get(pk=incident.pk)
    assert row.reported_by_user_id is None and row.channel == ""
    assert_same_answer(row, Principal.for_user(alice))


def test_the_filing_endpoint_answers_the_serializers_shape(key_client, acme_key):
    with time_machine.travel(NOW, tick=False):
        body = {"title": "Angry comments", "category": "negative_wave", "dedup_key": "storm"}
        new = key_client.post("/api/v1/incidents/", body, format="json")
        again = key_client.post("/api/v1/incidents/", body, format="json")
        detail = key_client.get(f"/api/v1/incidents/{new.json()['id']}/")
        row = incidents_for_display(Principal(is_superuser=True)).get(pk=new.json()["id"])
        expected = json.loads(
            as_json(IncidentOutput(row, context={"principal": Principal.for_key(acme_key)}).data)
        )
    assert (new.status_code, again.status_code, detail.status_code) == (201, 200, 200)
    assert new.json()["steps"] and again.json()["duplicate_count"] == 1
    assert detail.json() == expected
    assert again.json() == expected
    assert new.json() == {**expected, "duplicate_count": 0}
