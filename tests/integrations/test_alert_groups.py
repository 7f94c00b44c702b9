"""Alertmanager (webhook v4) and Grafana alerting: each alert of a group is one incident."""

from datetime import UTC, datetime

import pytest
import time_machine

from crisis.models import BrandKey
from incidents import clock
from incidents.models import Escalation, Incident, TimelineEvent

from .conftest import AUTH_FORMS, send

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
TOOLS = {
    # tool: (URL, fixture, dedup key prefix)
    "alertmanager": ("/api/v1/integrations/alertmanager/", "alertmanager_group", "am"),
    "grafana": ("/api/v1/integrations/grafana/", "grafana_group", "grafana"),
}


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture(params=list(TOOLS))
def tool(request):
    return request.param


def incidents_of(key):
    return Incident.objects.for_brands([key.brand_id]).order_by("pk")


def kinds(incident):
    return list(
        TimelineEvent.objects.for_brands([incident.brand_id])
        .filter(incident=incident)
        .values_list("kind", flat=True)
    )


@pytest.mark.parametrize("form", AUTH_FORMS)
def test_a_group_of_three_firing_alerts_files_three_incidents(acme_key, payload, tool, form):
    url, fixture, prefix = TOOLS[tool]
    group = payload(fixture)
    response = send(url, group, key=acme_key.plain, form=form)

    assert response.status_code == 200, response.content
    incidents = list(incidents_of(acme_key))
    assert len(incidents) == 3
    assert sorted(response.json()["incidents"]) == [i.pk for i in incidents]
    assert {i.dedup_key for i in incidents} == {f"{prefix}:{a['fingerprint']}" for a in group["alerts"]}
    assert all(i.reported_by_key_id == acme_key.pk for i in incidents)


def test_alertmanager_fields_map_onto_the_incident(acme_key, payload):
    send("/api/v1/integrations/alertmanager/", payload("alertmanager_group"), key=acme_key.plain)
    spike, telegram, site = incidents_of(acme_key)

    assert (spike.title, spike.description) == (
        "Negative mentions on VK 6x above baseline",
        "Ratio 6.1 over 10 minutes.",
    )
    assert (spike.severity, spike.category, spike.channel) == ("critical", "negative_wave", "vk")
    assert spike.source_url.startswith("http://prometheus.acme.example:9090/graph")
    assert spike.detected_at == datetime(2026, 11, 20, 9, 31, 5, 123456, tzinfo=UTC)  # nanoseconds cut
    assert spike.source_details["labels"]["team"] == "smm"
    assert spike.source_details["externalURL"] == "http://alertmanager.acme.example:9093"
    # "warning" is not our word: the alerting tools' severities map through one table.
    assert (telegram.severity, telegram.channel) == ("medium", "telegram")
    # No summary: the alert's name; no severity label: medium; a generatorURL that is no URL: none.
    assert (site.title, site.severity, site.category, site.channel, site.source_url) == (
        "ShopSiteDown",
        "medium",
        "other",
        "",
        "",
    )
    assert site.detected_at == datetime(2026, 11, 20, 6, 33, tzinfo=UTC)


def test_grafana_extras_are_kept_and_put_is_taken(acme_key, payload):
    response = send(
        "/api/v1/integrations/grafana/", payload("grafana_group"), key=acme_key.plain, method="put"
    )

    assert response.status_code == 200, response.content
    by_key = {i.dedup_key: i for i in incidents_of(acme_key)}
    share, blocked = by_key["grafana:c6eadffa33fcdf37"], by_key["grafana:aa11bb22cc33dd44"]
    assert share.severity == "high"
    assert share.source_details["values"] == {"B": 0.42, "C": 1}
    assert share.source_details["silenceURL"].startswith("https://grafana.acme.example/alerting/silence/")
    assert (blocked.category, blocked.channel) == ("platform_block", "instagram")


def test_the_same_group_again_changes_nothing(acme_key, payload, tool):
    url, fixture, _prefix = TOOLS[tool]
    first = send(url, payload(fixture), key=acme_key.plain).json()
    second = send(url, payload(fixture), key=acme_key.plain).json()

    assert first == second
    assert incidents_of(acme_key).count() == 3
    assert all(i.duplicate_count == 0 and kinds(i) == ["created"] for i in incidents_of(acme_key))


def test_a_new_starts_at_counts_as_one_duplicate(acme_key, payload, tool):
    url, fixture, prefix = TOOLS[tool]
    send(url, payload(fixture), key=acme_key.plain)
    group = payload(fixture)
    group["alerts"][0]["startsAt"] = "2026-11-20T09:59:00Z"
    send(url, group, key=acme_key.plain)
    send(url, group, key=acme_key.plain)  # and that firing resent: nothing more

    counts = {i.dedup_key: i.duplicate_count for i in incidents_of(acme_key)}
    moved = f"{prefix}:{group['alerts'][0]['fingerprint']}"
    assert counts.pop(moved) == 1
    assert list(counts.values()) == [0, 0]


def test_resolved_is_recorded_on_each_and_stops_escalation(acme_key, payload, tool, _now):
    url, fixture, _prefix = TOOLS[tool]
    send(url, payload(fixture), key=acme_key.plain)
    group = payload(fixture)
    group["status"] = "resolved"
    for alert in group["alerts"]:
        alert.update(status="resolved", endsAt="2026-11-20T09:59:30Z")
    response = send(url, group, key=acme_key.plain)
    send(url, group, key=acme_key.plain)  # resent: recorded once

    assert response.status_code == 200
    incidents = list(incidents_of(acme_key))
    assert sorted(response.json()["incidents"]) == [i.pk for i in incidents]
    for incident in incidents:
        assert incident.source_state == "resolved"
        assert kinds(incident) == ["created", "source_resolved"]
        assert incident.next_escalation_at is None
    _now.move_to(datetime(2026, 11, 21, tzinfo=UTC))
    clock.sweep(plan_ahead=False)
    assert not Escalation.objects.for_brands([acme_key.brand_id]).exists()


def test_a_resolved_alert_of_another_key_is_not_touched(acme, acme_key, payload):
    send("/api/v1/integrations/alertmanager/", payload("alertmanager_group"), key=acme_key.plain)
    _other, plain = BrandKey.issue(brand=acme, name="second alertmanager")
    group = payload("alertmanager_group")
    for alert in group["alerts"]:
        alert["status"] = "resolved"
    response = send("/api/v1/integrations/alertmanager/", group, key=plain)

    assert response.json() == {"incidents": []}
    assert all(i.source_state == "" for i in incidents_of(acme_key))


def test_an_alert_without_fingerprint_is_deduplicated_by_its_labels(acme_key, payload):
    group = payload("alertmanager_group")
    for alert in group["alerts"]:
        del alert["fingerprint"]
    send("/api/v1/integrations/alertmanager/", group, key=acme_key.plain)
    send("/api/v1/integrations/alertmanager/", group, key=acme_key.plain)

    assert incidents_of(acme_key).count() == 3
    assert all(i.duplicate_count == 0 for i in incidents_of(acme_key))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_copies_of_a_group_arriving_together_file_each_alert_once(acme_key, payload):
    """An Alertmanager cluster's peers (or a retry) post the same group at the same moment."""
    from tests.conftest import all_at_once

    group = payload("alertmanager_group")
    answers = all_at_once(
        lambda _n: send("/api/v1/integrations/alertmanager/", group, key=acme_key.plain), range(6)
    )

    assert {a.status_code for a in answers} == {200}
    incidents = list(incidents_of(acme_key))
    assert len(incidents) == 3
    assert all(i.duplicate_count == 0 and kinds(i) == ["created"] for i in incidents)
