"""
What an alerting tool says about an alert whose incident was merged into another: its
events follow the key to the target (README, "Integrations"; docs/integrations/pagerduty.md).
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from crisis.models import BrandKey
from crisis.tenancy import Principal
from incidents import clock, command
from incidents.models import Escalation, Incident, MovedDedupKey, TimelineEvent
from incidents.selectors import incidents_for_lists, queue_order

from .conftest import send

PD = "/api/v1/integrations/pagerduty/v2/enqueue"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TOOLS = {
    "alertmanager": ("/api/v1/integrations/alertmanager/", "alertmanager_group", "am"),
    "grafana": ("/api/v1/integrations/grafana/", "grafana_group", "grafana"),
}


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def enqueue(body):
    return APIClient().post(PD, data=json.dumps(body), content_type="application/json")


def event(key, action, dedup_key):
    return {"routing_key": key.routing_key(), "dedup_key": dedup_key, "event_action": action}


@pytest.fixture
def trigger(payload):
    def send_trigger(key, dedup_key):
        body = payload("pagerduty_trigger")
        body.update(routing_key=key.routing_key(), dedup_key=dedup_key)
        body["payload"]["timestamp"] = T0.isoformat()
        response = enqueue(body)
        assert response.status_code == 202, response.content
        return response

    return send_trigger


def the(key, dedup_key):
    """The open incident whose own key `dedup_key` is."""
    return Incident.objects.for_brands([key.brand_id]).get(dedup_key=dedup_key, state__in=OPEN)


OPEN = ("detected", "acknowledged", "investigated")


def events_of(incident, *kinds):
    return list(
        TimelineEvent.objects.for_brands([incident.brand_id])
        .filter(incident=incident, kind__in=kinds)
        .order_by("at", "id")
        .values_list("kind", "data")
    )


def merge(api, user, source, target):
    response = api(user).post(f"/api/v1/incidents/{source.pk}/merge/", {"into": target.pk}, format="json")
    assert response.status_code == 200, response.content


def fresh(incident):
    return Incident.all_brands.get(pk=incident.pk)


@pytest.fixture
def merged(acme_key, trigger, api, alice):
    """PagerDuty trigger A → incident 1, trigger B → incident 2, 1 merged into 2."""
    trigger(acme_key, "A")
    trigger(acme_key, "B")
    one, two = the(acme_key, "A"), the(acme_key, "B")
    merge(api, alice, one, two)
    return one, two


def test_acknowledge_of_a_merged_key_is_recorded_on_the_target(acme_key, merged):
    _one, two = merged
    response = enqueue(event(acme_key, "acknowledge", "A"))

    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Event processed", "dedup_key": "A"}
    assert events_of(two, "source_acknowledged") == [
        ("source_acknowledged", {"dedup_key": "A", "merged_key": True})
    ]
    # The target's own alert (B) said nothing: its own state and timers are as they were.
    assert (fresh(two).source_state, fresh(two).next_escalation_at) == ("", two.next_escalation_at)
    assert MovedDedupKey.all_brands.get(dedup_key="A").source_state == "acknowledged"
    enqueue(event(acme_key, "acknowledge", "A"))  # said again: nothing new
    assert len(events_of(two, "source_acknowledged")) == 1


def test_the_target_stops_escalating_only_once_every_alert_it_carries_has_resolved(acme_key, merged, _now):
    one, two = merged
    response = enqueue(event(acme_key, "resolve", "A"))

    assert response.json() == {"status": "success", "message": "Event processed", "dedup_key": "A"}
    assert events_of(two, "source_resolved") == [
        ("source_resolved", {"dedup_key": "A", "merged_key": True, "escalation_stopped": False})
    ]
    assert fresh(two).next_escalation_at is not None  # B still fires
    assert fresh(one).state == "resolved" and events_of(one, "source_resolved") == []

    enqueue(event(acme_key, "resolve", "B"))
    two = fresh(two)
    assert events_of(two, "source_resolved")[-1] == (
        "source_resolved",
        {"dedup_key": "B", "escalation_stopped": True},
    )
    assert (two.source_state, two.next_escalation_at, two.sla_warning_at) == ("resolved", None, None)
    _now.move_to(T0 + timedelta(days=1))
    clock.sweep(plan_ahead=False)
    assert not Escalation.objects.for_brands([acme_key.brand_id]).exists()


def test_the_target_s_own_resolve_leaves_it_escalating_while_a_merged_alert_fires(acme_key, merged, alice):
    _one, two = merged
    enqueue(event(acme_key, "resolve", "B"))

    assert events_of(two, "source_resolved")[-1][1]["escalation_stopped"] is False
    assert fresh(two).next_escalation_at is not None
    # Still firing: among the unclaimed ones still firing in the queue, not after them.
    assert fresh(two).source_state == "resolved"
    tiers = {i.pk: i.queue_tier for i in queue_order(incidents_for_lists(Principal.for_user(alice)))}
    assert tiers[two.pk] == 0
    enqueue(event(acme_key, "resolve", "A"))
    tiers = {i.pk: i.queue_tier for i in queue_order(incidents_for_lists(Principal.for_user(alice)))}
    assert tiers[two.pk] == 1


def test_a_trigger_of_the_merged_key_counts_on_the_target_and_rearms_it(acme_key, merged, trigger, _now):
    _one, two = merged
    enqueue(event(acme_key, "resolve", "A"))
    enqueue(event(acme_key, "resolve", "B"))
    assert fresh(two).next_escalation_at is None
    counted = fresh(two).duplicate_count  # 1: incident 1 itself, counted by the merge

    _now.move_to(T0 + timedelta(hours=1))  # past the ack deadline (high: 15 min)
    response = trigger(acme_key, "A")

    assert response.json()["dedup_key"] == "A"  # the event's key, not the target's own
    two = fresh(two)
    assert two.duplicate_count == counted + 1
    assert Incident.objects.for_brands([acme_key.brand_id]).count() == 2  # no new incident
    assert MovedDedupKey.all_brands.get(dedup_key="A").source_state == ""
    assert two.next_escalation_at is not None
    clock.sweep(plan_ahead=False)
    assert list(Escalation.objects.for_brands([acme_key.brand_id]).values_list("level", flat=True)) == [1, 2]


def test_merging_a_firing_alert_into_a_target_whose_sources_resolved_rearms_it(acme_key, trigger, api, alice):
    trigger(acme_key, "A")
    trigger(acme_key, "B")
    one, two = the(acme_key, "A"), the(acme_key, "B")
    enqueue(event(acme_key, "resolve", "B"))
    assert fresh(two).next_escalation_at is None

    merge(api, alice, one, two)

    assert fresh(two).next_escalation_at is not None  # A still fires, now on incident 2
    enqueue(event(acme_key, "resolve", "A"))
    assert fresh(two).next_escalation_at is None


def test_a_resolved_alert_merged_in_stays_resolved_there(acme_key, trigger, api, alice):
    trigger(acme_key, "A")
    trigger(acme_key, "B")
    one, two = the(acme_key, "A"), the(acme_key, "B")
    enqueue(event(acme_key, "resolve", "A"))
    merge(api, alice, one, two)

    assert MovedDedupKey.all_brands.get(dedup_key="A").source_state == "resolved"
    enqueue(event(acme_key, "resolve", "A"))  # the same news again: nothing
    assert events_of(two, "source_resolved") == []
    enqueue(event(acme_key, "resolve", "B"))
    assert fresh(two).next_escalation_at is None


def test_a_target_a_person_filed_takes_the_key_but_only_its_filer_speaks_for_it(
    acme, acme_key, trigger, api, alice, file_incident
):
    trigger(acme_key, "A")
    one = the(acme_key, "A")
    two = file_incident(title="Checkout complaints on VK")  # alice's report, no key
    merge(api, alice, one, two)
    assert fresh(two).dedup_key == "A"

    other, _plain = BrandKey.issue(brand=acme, name="another tool")
    enqueue(event(other, "resolve", "A"))  # not the key that filed A
    assert events_of(two, "source_resolved") == []

    enqueue(event(acme_key, "resolve", "A"))
    # Recorded; alice's own report has no source that could clear it: it escalates on.
    assert events_of(two, "source_resolved") == [
        ("source_resolved", {"dedup_key": "A", "merged_key": True, "escalation_stopped": False})
    ]
    assert (fresh(two).source_state, fresh(two).next_escalation_at is not None) == ("", True)


def test_another_key_of_the_brand_cannot_speak_for_a_merged_key(acme, acme_key, merged):
    _one, two = merged
    other, _plain = BrandKey.issue(brand=acme, name="another tool")
    for action in ("acknowledge", "resolve"):
        assert enqueue(event(other, action, "A")).status_code == 202

    assert events_of(two, "source_acknowledged", "source_resolved") == []
    assert MovedDedupKey.all_brands.get(dedup_key="A").source_state == ""


def test_another_brand_s_same_key_is_untouched(acme_key, globex, merged, trigger):
    _one, two = merged
    theirs_key, _plain = BrandKey.issue(brand=globex, name="their pagerduty")
    trigger(theirs_key, "A")
    theirs = the(theirs_key, "A")

    enqueue(event(acme_key, "resolve", "A"))
    assert fresh(theirs).source_state == "" and events_of(theirs, "source_resolved") == []
    enqueue(event(theirs_key, "resolve", "A"))
    assert fresh(theirs).source_state == "resolved"
    assert len(events_of(two, "source_resolved")) == 1  # acme's own resolve, nothing of globex's


def test_events_for_a_key_never_filed_or_no_longer_open_answer_as_before(
    acme_key, merged, alice, bob, incident_in
):
    _one, two = merged
    response = enqueue(event(acme_key, "resolve", "never-filed"))
    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Event processed", "dedup_key": "never-filed"}

    incident_in(two, "resolved", manager=alice, responder=bob)
    before = events_of(two, "source_resolved", "source_acknowledged")
    for action in ("acknowledge", "resolve"):
        assert enqueue(event(acme_key, action, "A")).status_code == 202
    assert events_of(two, "source_resolved", "source_acknowledged") == before


@pytest.mark.parametrize(
    "dedup_key",
    ["A\u0000", "\ud800", "x" * 256, 7, None, ""],
    ids=["nul", "surrogate", "long", "int", "null", "blank"],
)
def test_bad_keys_on_a_merged_alert_are_400_in_pagerdutys_shape(acme_key, merged, dedup_key):
    response = enqueue(event(acme_key, "resolve", dedup_key))  # json.dumps escapes the surrogate

    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"


# --- Alert groups -----------------------------------------------------------------------


@pytest.fixture(params=list(TOOLS))
def tool(request):
    return request.param


def resolved(group, *indexes):
    for i in indexes:
        group["alerts"][i].update(status="resolved", endsAt="2026-11-20T09:59:30Z")
    return group


def test_a_group_s_alert_merged_away_follows_its_key(acme_key, payload, tool, api, alice, _now):
    url, fixture, prefix = TOOLS[tool]
    send(url, payload(fixture), key=acme_key.plain)
    first, second = (payload(fixture)["alerts"][i]["fingerprint"] for i in (0, 1))
    one, two = the(acme_key, f"{prefix}:{first}"), the(acme_key, f"{prefix}:{second}")
    merge(api, alice, one, two)
    counted = fresh(two).duplicate_count
    seen = events_of(two, "duplicate", "source_resolved")

    # A resend with the same startsAt changes nothing, merged or not.
    answer = send(url, payload(fixture), key=acme_key.plain)
    assert answer.status_code == 200
    assert two.pk in answer.json()["incidents"] and one.pk not in answer.json()["incidents"]
    assert fresh(two).duplicate_count == counted
    assert events_of(two, "duplicate", "source_resolved") == seen

    # The merged alert resolves: recorded on the target, which still escalates (its own fires).
    answer = send(url, resolved(payload(fixture), 0), key=acme_key.plain)
    assert two.pk in answer.json()["incidents"]
    _kind, data = events_of(two, "source_resolved")[-1]
    assert (data["dedup_key"], data["merged_key"], data["escalation_stopped"]) == (
        f"{prefix}:{first}",
        True,
        False,
    )
    assert fresh(two).next_escalation_at is not None
    send(url, resolved(payload(fixture), 0), key=acme_key.plain)  # resent: recorded once
    assert len(events_of(two, "source_resolved")) == 1

    # Both resolved: it stops.
    send(url, resolved(payload(fixture), 0, 1), key=acme_key.plain)
    assert events_of(two, "source_resolved")[-1][1]["escalation_stopped"] is True
    assert fresh(two).next_escalation_at is None

    # The merged alert fires again (a new startsAt): one duplicate on the target, re-armed.
    group = resolved(payload(fixture), 1)
    group["alerts"][0]["startsAt"] = "2026-11-20T09:59:50Z"
    send(url, group, key=acme_key.plain)
    send(url, group, key=acme_key.plain)  # and that firing resent: nothing more
    assert fresh(two).duplicate_count == counted + 1
    assert fresh(two).next_escalation_at is not None
    assert Incident.objects.for_brands([acme_key.brand_id]).count() == 3


def test_a_resolved_merged_alert_of_another_key_is_not_touched(acme, acme_key, payload, api, alice):
    url, fixture, prefix = TOOLS["alertmanager"]
    send(url, payload(fixture), key=acme_key.plain)
    first, second = (payload(fixture)["alerts"][i]["fingerprint"] for i in (0, 1))
    one, two = the(acme_key, f"{prefix}:{first}"), the(acme_key, f"{prefix}:{second}")
    merge(api, alice, one, two)
    _other, plain = BrandKey.issue(brand=acme, name="second alertmanager")

    response = send(url, resolved(payload(fixture), 0, 1, 2), key=plain)

    assert response.json() == {"incidents": []}
    assert events_of(two, "source_resolved") == []


def test_a_merge_through_the_service_then_a_chain_of_merges(acme_key, trigger, alice):
    """Keys merged into the source earlier follow it with their records and filers."""
    for key in ("A", "B", "C"):
        trigger(acme_key, key)
    one, two, three = (the(acme_key, key) for key in ("A", "B", "C"))
    manager = Principal.for_user(alice)
    command.incident_merge(incident_id=one.pk, principal=manager, into=two.pk)
    command.incident_merge(incident_id=two.pk, principal=manager, into=three.pk)

    rows = {row.dedup_key: row for row in MovedDedupKey.all_brands.filter(incident=three)}
    assert set(rows) == {"A", "B"}
    assert all(row.reported_by_key_id == acme_key.pk for row in rows.values())
    for key in ("A", "B", "C"):
        enqueue(event(acme_key, "resolve", key))
    stops = [data["escalation_stopped"] for _kind, data in events_of(three, "source_resolved")]
    assert stops == [False, False, True]


def test_the_migration_gives_rows_written_before_it_their_filer(acme_key, trigger, api, alice, file_incident):
    """incidents 0021: rows of earlier merges learn who filed their key from the merge's event."""
    import importlib

    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    apps = MigrationLoader(connection).project_state(("incidents", "0021_moved_key_records")).apps
    backfill = importlib.import_module("incidents.migrations.0021_moved_key_records").backfill
    for key in ("A", "B", "D"):
        trigger(acme_key, key)
    one, two, four = (the(acme_key, key) for key in ("A", "B", "D"))
    three = file_incident(title="Checkout complaints on VK")
    merge(api, alice, one, two)
    merge(api, alice, four, three)
    # As the merge left them before keys carried their records: no filer, no row for a key
    # moved onto a target that had none.
    MovedDedupKey.all_brands.filter(dedup_key="A").update(reported_by_key=None, source_details={})
    MovedDedupKey.all_brands.filter(dedup_key="D").delete()

    backfill(apps, None)

    rows = {row.dedup_key: row for row in MovedDedupKey.all_brands.all()}
    assert (rows["A"].incident_id, rows["A"].reported_by_key_id) == (two.pk, acme_key.pk)
    assert rows["A"].source_details == fresh(one).source_details
    assert (rows["D"].incident_id, rows["D"].reported_by_key_id) == (three.pk, acme_key.pk)
    enqueue(event(acme_key, "resolve", "D"))
    assert events_of(three, "source_resolved")[0][1]["merged_key"] is True


def test_an_event_that_looked_the_key_up_before_a_merge_lands_on_the_target(acme_key, trigger, api, alice):
    """A merge between the look-up and the row lock: the service says so and the key is looked up again."""
    from incidents import selectors, services
    from integrations.inbound import alerts

    trigger(acme_key, "A")
    trigger(acme_key, "B")
    one, two = the(acme_key, "A"), the(acme_key, "B")
    stale = selectors.open_incident_with_key(acme_key.brand_id, "A")
    merge(api, alice, one, two)
    key = Principal.for_key(acme_key)

    assert (
        services.incident_source_resolved(incident_id=one.pk, principal=key, data={}, dedup_key="A") is None
    )
    told = alerts.say(
        services.incident_source_resolved,
        principal=key,
        brand=acme_key.brand,
        dedup_key="A",
        holder=stale,
        data={"dedup_key": "A"},
    )

    assert told == two.pk
    assert fresh(one).source_state == "" and events_of(one, "source_resolved") == []
    assert events_of(two, "source_resolved")[0][1]["dedup_key"] == "A"
