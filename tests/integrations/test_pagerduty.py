"""The PagerDuty Events API v2 endpoint: trigger, acknowledge, resolve, answered as PagerDuty does."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from crisis.models import BrandKey
from crisis.tenancy import Principal
from incidents import clock, services
from incidents.models import Escalation, Incident, TimelineEvent

URL = "/api/v1/integrations/pagerduty/v2/enqueue"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def enqueue(body, *, path=URL, raw: bytes | None = None):
    return APIClient().post(
        path, data=raw if raw is not None else json.dumps(body), content_type="application/json"
    )


@pytest.fixture
def trigger(payload, acme_key):
    def make(**changes):
        event = payload("pagerduty_trigger")
        event["routing_key"] = acme_key.routing_key()
        event.update(changes)
        return event

    return make


def incidents_of(key):
    return Incident.objects.for_brands([key.brand_id]).order_by("pk")


def kinds(incident):
    return list(
        TimelineEvent.objects.for_brands([incident.brand_id])
        .filter(incident=incident)
        .values_list("kind", flat=True)
    )


def test_a_trigger_is_202_and_files_an_incident(acme_key, trigger):
    response = enqueue(trigger())

    assert response.status_code == 202, response.content
    assert response.json() == {"status": "success", "message": "Event processed", "dedup_key": "checkout-5xx"}
    incident = incidents_of(acme_key).get()
    assert incident.title == "Checkout error rate above 5% on acme-coffee.ru"
    assert incident.severity == "high"  # PagerDuty's error
    assert incident.source_url == "https://grafana.acme.example/d/checkout"
    assert incident.detected_at == datetime(2026, 11, 20, 8, 42, 58, 315000, tzinfo=UTC)
    assert incident.reported_by_key_id == acme_key.pk
    assert incident.dedup_key == "checkout-5xx"  # the sender's own key, unprefixed
    details = incident.source_details
    assert details["custom_details"] == {"error rate": "7.2%", "region": "eu-central"}
    assert (details["component"], details["class"], details["client"]) == (
        "checkout",
        "http 5xx",
        "Acme monitoring",
    )
    assert "routing_key" not in json.dumps(details)


@pytest.mark.parametrize(
    ("theirs", "ours"), [("critical", "critical"), ("error", "high"), ("warning", "medium"), ("info", "low")]
)
def test_severities_map_onto_ours(acme_key, trigger, theirs, ours):
    event = trigger(dedup_key=f"sev-{theirs}")
    event["payload"]["severity"] = theirs
    enqueue(event)

    assert incidents_of(acme_key).get().severity == ours


def test_the_trailing_slash_is_served_too(acme_key, trigger):
    assert enqueue(trigger(), path=URL + "/").status_code == 202


def test_a_trigger_without_dedup_key_gets_one_generated_and_returned(acme_key, trigger):
    event = trigger()
    del event["dedup_key"]
    first, second = enqueue(event).json(), enqueue(event).json()

    assert first["dedup_key"].startswith("pd:") and second["dedup_key"].startswith("pd:")
    assert first["dedup_key"] != second["dedup_key"]
    assert incidents_of(acme_key).count() == 2


def test_the_same_dedup_key_again_is_the_same_incident_counted(acme_key, trigger):
    enqueue(trigger())
    response = enqueue(trigger())

    assert response.status_code == 202
    incident = incidents_of(acme_key).get()
    assert incident.duplicate_count == 1
    assert kinds(incident) == ["created", "duplicate"]


def test_acknowledge_is_recorded_and_changes_nothing_else(acme_key, trigger):
    enqueue(trigger())
    before = incidents_of(acme_key).get()
    response = enqueue(
        {"routing_key": acme_key.routing_key(), "dedup_key": "checkout-5xx", "event_action": "acknowledge"}
    )

    assert response.status_code == 202
    incident = incidents_of(acme_key).get()
    assert incident.source_state == "acknowledged"
    assert (incident.state, incident.next_escalation_at, incident.sla_warning_at) == (
        "detected",
        before.next_escalation_at,
        before.sla_warning_at,
    )
    assert kinds(incident) == ["created", "source_acknowledged"]


def test_resolve_on_an_unclaimed_incident_stops_its_escalation_and_warning(acme_key, trigger, _now):
    enqueue(trigger())
    response = enqueue(
        {"routing_key": acme_key.routing_key(), "dedup_key": "checkout-5xx", "event_action": "resolve"}
    )

    assert response.status_code == 202
    incident = incidents_of(acme_key).get()
    assert (incident.source_state, incident.state) == ("resolved", "detected")
    assert (incident.next_escalation_at, incident.sla_warning_at) == (None, None)
    assert incident.ack_due_at is not None  # still judged
    assert kinds(incident)[-1] == "source_resolved"
    # The clock fires nothing for it, however long nobody claims it.
    _now.move_to(T0 + timedelta(days=2))
    clock.sweep(plan_ahead=False)
    assert not Escalation.objects.for_brands([acme_key.brand_id]).exists()
    assert "sla_warning" not in kinds(incident) and "escalated" not in kinds(incident)
    # The answer says what the source said.
    assert incident.ack_breached


def test_a_later_trigger_counts_and_rearms_the_escalation(acme_key, trigger, _now):
    enqueue(trigger())
    enqueue({"routing_key": acme_key.routing_key(), "dedup_key": "checkout-5xx", "event_action": "resolve"})
    _now.move_to(T0 + timedelta(hours=1))  # past the ack deadline (high: 15 min)
    enqueue(trigger())

    incident = incidents_of(acme_key).get()
    assert (incident.source_state, incident.duplicate_count) == ("", 1)
    assert incident.next_escalation_at is not None
    clock.sweep(plan_ahead=False)
    levels = Escalation.objects.for_brands([acme_key.brand_id]).values_list("level", flat=True)
    assert list(levels) == [1, 2]  # both overdue levels of the default chain, once each
    clock.sweep(plan_ahead=False)
    assert Escalation.objects.for_brands([acme_key.brand_id]).count() == 2


def test_resolve_on_a_claimed_incident_is_only_recorded(acme_key, trigger, bob):
    enqueue(trigger())
    incident = incidents_of(acme_key).get()
    services.incident_claim(incident_id=incident.pk, principal=Principal.for_user(bob))
    enqueue({"routing_key": acme_key.routing_key(), "dedup_key": "checkout-5xx", "event_action": "resolve"})

    incident.refresh_from_db()
    assert (incident.state, incident.source_state) == ("acknowledged", "resolved")
    assert incident.resolve_escalation_at is not None  # the resolve clock runs on


def test_after_a_person_resolves_it_a_new_trigger_opens_a_new_incident(
    acme_key, trigger, alice, bob, incident_in
):
    enqueue(trigger())
    first = incidents_of(acme_key).get()
    incident_in(first, "resolved", manager=alice, responder=bob)
    response = enqueue(trigger())

    assert response.json()["dedup_key"] == "checkout-5xx"
    assert incidents_of(acme_key).count() == 2
    assert incidents_of(acme_key).last().state == "detected"


def test_a_1024_character_summary_is_kept_whole(acme_key, trigger):
    summary = ("Checkout 5xx on every node of the eu-central cluster; " * 30)[:1024]
    event = trigger()
    event["payload"]["summary"] = summary
    enqueue(event)

    incident = incidents_of(acme_key).get()
    assert len(incident.title) == 200
    assert incident.title + incident.description == summary


def test_events_of_another_key_or_matching_nothing_do_nothing(acme, acme_key, trigger):
    enqueue(trigger())
    other, _plain = BrandKey.issue(brand=acme, name="another tool")
    for event in (
        {"routing_key": other.routing_key(), "dedup_key": "checkout-5xx", "event_action": "resolve"},
        {"routing_key": acme_key.routing_key(), "dedup_key": "no-such-alert", "event_action": "resolve"},
    ):
        assert enqueue(event).status_code == 202
    incident = incidents_of(acme_key).get()
    assert incident.source_state == ""
    assert kinds(incident) == ["created"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"routing_key": "short"}, "Length of 'routing_key' is incorrect (should be 32 characters)"),
        (
            {"routing_key": "0" * 32},
            "'routing_key' is not a routing key of this desk (revoked, or never issued)",
        ),
        ({"event_action": "escalate"}, "'event_action' must be one of trigger, acknowledge, resolve"),
        ({"payload": None}, "'payload' is missing or not an object"),
        ({"payload": {"source": "x", "severity": "error"}}, "'payload.summary' is missing or blank"),
        (
            {"payload": {"summary": "x", "source": "x", "severity": "fatal"}},
            "'payload.severity' must be one of critical, error, warning, info",
        ),
        (
            {"payload": {"summary": "x" * 1025, "source": "x", "severity": "info"}},
            "'payload.summary' is longer than 1024 characters",
        ),
        (
            {"payload": {"summary": 7, "source": "x", "severity": "info"}},
            "'payload.summary' must be a string",
        ),
        (
            {"payload": {"summary": "x", "source": "x", "severity": "info", "timestamp": "yesterday"}},
            "'payload.timestamp' is not an ISO 8601 date and time after 2000",
        ),
        ({"dedup_key": 12}, "'dedup_key' must be a string"),
    ],
)
def test_a_malformed_event_is_400_in_pagerdutys_shape_and_stores_nothing(acme_key, trigger, change, error):
    response = enqueue(trigger(**change))

    assert response.status_code == 400
    assert response.json() == {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": [error],
    }
    assert not incidents_of(acme_key).exists()


def test_acknowledge_without_dedup_key_is_invalid(acme_key):
    response = enqueue({"routing_key": acme_key.routing_key(), "event_action": "acknowledge"})

    assert response.status_code == 400
    assert response.json()["errors"] == ["'dedup_key' is missing or blank"]


def test_a_revoked_key_revokes_its_routing_key(acme_key, trigger):
    BrandKey.objects.for_brands([acme_key.brand_id]).filter(pk=acme_key.pk).update(revoked_at=T0)

    assert enqueue(trigger()).status_code == 400
    assert not incidents_of(acme_key).exists()


@pytest.mark.parametrize(
    "raw",
    [b'{"routing_key": "abc", "event_action": "trig', b"[1, 2, 3]", b"", b"\xff\xfe\x00", b'"just a string"'],
    ids=["truncated", "a list", "empty", "not utf-8", "a string"],
)
def test_a_body_that_is_no_event_is_400_in_pagerdutys_shape(acme_key, raw):
    response = enqueue(None, raw=raw)

    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"
    assert response.json()["errors"]


def test_the_512_kb_limit(acme_key, trigger):
    event = trigger()
    event["payload"]["custom_details"] = {"blob": "x" * (512 * 1024)}
    response = enqueue(event)

    assert response.status_code == 413
    assert response.json()["status"] == "invalid event"
    assert not incidents_of(acme_key).exists()


def test_a_source_resolved_incident_waits_in_the_queue_after_the_ones_still_firing(
    acme, acme_key, trigger, alice
):
    from incidents.selectors import incidents_for_lists, queue_order

    for key, minutes in (("cleared", 50), ("firing-late", 10), ("firing-early", 30)):
        event = trigger(dedup_key=key)
        event["payload"]["timestamp"] = (T0 - timedelta(minutes=minutes)).isoformat()
        enqueue(event)
    enqueue({"routing_key": acme_key.routing_key(), "dedup_key": "cleared", "event_action": "resolve"})

    order = [i.dedup_key for i in queue_order(incidents_for_lists(Principal.for_user(alice)))]
    # The cleared one is overdue longest, but no longer firing: after the ones that are.
    assert order == ["firing-early", "firing-late", "cleared"]
