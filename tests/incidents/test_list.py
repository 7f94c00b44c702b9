"""The incident list: scoping, filters, ordering, pagination and a fixed number of queries."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
import time_machine

from crisis.tenancy import Principal
from incidents import services

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.data["results"]]


@pytest.mark.parametrize("page_size", [1, 10, 50])
def test_list_runs_a_fixed_number_of_queries(
    page_size, api, bob, alice, dave, file_incident, incident_in, django_assert_max_num_queries
):
    for i in range(60):
        incident = file_incident(title=f"incident {i}", by=bob if i % 2 else alice)
        if i % 3 == 0:
            incident_in(incident, "investigated", manager=alice, responder=dave)
    client = api(bob)
    # auth (token with user, expired-token cleanup), roles, count, page, and one
    # prefetch each for checklist steps and review follow-ups.
    with django_assert_max_num_queries(7):
        response = client.get(f"/api/v1/incidents/?page_size={page_size}")
    assert len(response.data["results"]) == page_size
    assert response.data["count"] == 60


def test_page_size_is_at_most_200(api, bob, file_incident):
    for i in range(3):
        file_incident(title=str(i))
    assert len(api(bob).get("/api/v1/incidents/?page_size=200").data["results"]) == 3
    response = api(bob).get("/api/v1/incidents/?page_size=201")
    assert response.status_code == 400
    assert "page_size" in response.data


def test_filters(api, alice, bob, dave, file_incident, incident_in):
    wave = file_incident(title="VK wave", severity="critical", category="negative_wave")
    leak = incident_in(
        file_incident(title="Data leak", severity="high", category="data_leak"),
        "acknowledged",
        manager=alice,
        responder=bob,
    )
    fake = incident_in(
        file_incident(title="Fake news", severity="low", category="fake_news"),
        "investigated",
        manager=alice,
        responder=dave,
    )
    client = api(bob)
    assert ids(client.get("/api/v1/incidents/?state=detected")) == [wave.pk]
    assert set(ids(client.get("/api/v1/incidents/?state=acknowledged,investigated"))) == {leak.pk, fake.pk}
    assert ids(client.get("/api/v1/incidents/?severity=high")) == [leak.pk]
    assert ids(client.get("/api/v1/incidents/?category=fake_news")) == [fake.pk]
    assert ids(client.get("/api/v1/incidents/?assignee=me")) == [leak.pk]
    assert ids(client.get("/api/v1/incidents/?assignee=dave")) == [fake.pk]
    assert ids(client.get("/api/v1/incidents/?assignee=none")) == [wave.pk]
    assert ids(client.get("/api/v1/incidents/?q=leak")) == [leak.pk]
    assert set(ids(client.get("/api/v1/incidents/?brand=acme"))) == {wave.pk, leak.pk, fake.pk}
    assert ids(client.get("/api/v1/incidents/?brand=globex")) == []


def test_ordering(api, bob, file_incident):
    with time_machine.travel(NOW, tick=False):
        low = file_incident(title="low", severity="low")
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        critical = file_incident(title="critical", severity="critical")
    with time_machine.travel(NOW + timedelta(minutes=2), tick=False):
        medium = file_incident(title="medium", severity="medium")
    client = api(bob)
    assert ids(client.get("/api/v1/incidents/")) == [medium.pk, critical.pk, low.pk]
    assert ids(client.get("/api/v1/incidents/?ordering=severity")) == [critical.pk, medium.pk, low.pk]
    # ack deadlines: critical 12:01+10m, medium 12:02+60m, low 12:00+4h
    assert ids(client.get("/api/v1/incidents/?ordering=ack_due_at")) == [critical.pk, medium.pk, low.pk]


def test_breached_filter(api, alice, bob, file_incident):
    with time_machine.travel(NOW, tick=False):
        late_open = file_incident(title="nobody came", severity="critical")
        late_claimed = file_incident(title="claimed late", severity="critical")
        on_time = file_incident(title="claimed on time", severity="critical")
        fresh = file_incident(title="still has time", severity="low")
    with time_machine.travel(NOW + timedelta(minutes=2), tick=False):
        services.incident_claim(incident_id=on_time.pk, principal=Principal.for_user(bob))
    with time_machine.travel(NOW + timedelta(minutes=11), tick=False):
        services.incident_claim(incident_id=late_claimed.pk, principal=Principal.for_user(bob))
    with time_machine.travel(NOW + timedelta(minutes=20)):
        client = api(bob)
        assert set(ids(client.get("/api/v1/incidents/?breached=true"))) == {late_open.pk, late_claimed.pk}
        assert set(ids(client.get("/api/v1/incidents/?breached=false"))) == {on_time.pk, fresh.pk}
        detail = client.get(f"/api/v1/incidents/{late_claimed.pk}/").data
        assert detail["ack_breached"] is True


def test_superuser_sees_every_brand(api, root, globex, mallory, file_incident):
    mine = file_incident()
    theirs = file_incident(brand=globex, by=mallory)
    assert set(ids(api(root).get("/api/v1/incidents/"))) == {mine.pk, theirs.pk}


def test_key_sees_only_what_it_filed(key_client, file_incident):
    file_incident(title="filed by a person")
    filed = key_client.post("/api/v1/incidents/", {"title": "filed by the key"}, format="json")
    assert ids(key_client.get("/api/v1/incidents/")) == [filed.data["id"]]
    assert key_client.get(f"/api/v1/incidents/{filed.data['id']}/").status_code == 200


@pytest.mark.parametrize(
    ("instant", "status"),
    [
        ("2026-11-21T12:00:00+16:01", 200),  # Python takes the offset, PostgreSQL does not: sent in UTC
        ("2026-11-21T12:00:00-23:59", 200),
        ("9999-12-31T23:59:59-01:00", 400),  # after the last instant UTC has
        ("0001-01-01T00:00:00+01:00", 400),  # before the first
    ],
)
@pytest.mark.parametrize("name", ["detected_since", "detected_until"])
def test_any_instant_python_parses_is_an_answer_not_a_500(api, bob, file_incident, name, instant, status):
    file_incident()
    response = api(bob).get("/api/v1/incidents/", {name: instant})
    assert response.status_code == status, response.content
    if status == 400:
        assert name in response.json()


def test_an_instant_with_an_offset_is_compared_in_utc(api, bob, file_incident):
    incident = file_incident()
    at = incident.detected_at.astimezone(UTC)
    since = (at - timedelta(seconds=1)).astimezone(timezone(timedelta(hours=15, minutes=30))).isoformat()
    until = (at + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=-9))).isoformat()
    listed = api(bob).get("/api/v1/incidents/", {"detected_since": since, "detected_until": until})
    assert ids(listed) == [incident.pk]


@pytest.mark.parametrize("ordering", [",,,,", ",", "severity,", ",severity", "nonsense", "-"])
def test_an_ordering_the_schema_does_not_allow_is_400(ordering, api, bob, file_incident):
    # The schema declares `ordering` a list of known keys; an empty item is none of them.
    file_incident(title="one")
    answer = api(bob).get("/api/v1/incidents/", {"ordering": ordering})
    assert answer.status_code == 400, answer.content
    assert "ordering" in answer.data
