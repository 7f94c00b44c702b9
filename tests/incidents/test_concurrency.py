"""Concurrent claims on PostgreSQL: exactly one wins, the rest get 409 already_claimed."""

import pytest

from crisis.models import Membership, Role
from incidents.models import EventKind, Incident, TimelineEvent
from tests.conftest import all_at_once, client_for, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_concurrent_claims_one_winner(acme, file_incident):
    incident = file_incident(severity="critical")
    responders = [make_user(f"responder{i}", acme, Role.RESPONDER) for i in range(20)]
    clients = [client_for(user) for user in responders]

    def claim(client):
        response = client.post(f"/api/v1/incidents/{incident.pk}/claim/")
        return response.status_code, response.json()

    results = all_at_once(claim, clients)

    codes = [code for code, _ in results]
    assert len(codes) == 20
    assert codes.count(200) == 1, codes
    assert codes.count(409) == 19
    assert {body["code"] for code, body in results if code == 409} == {"already_claimed"}
    winner = next(body["assignee"] for code, body in results if code == 200)
    incident = Incident.all_brands.get(pk=incident.pk)
    assert incident.state == "acknowledged"
    assert incident.assignee.username == winner
    claimed = TimelineEvent.all_brands.filter(incident=incident, kind=EventKind.CLAIMED)
    assert claimed.count() == 1
    assert claimed.get().actor_label == winner
    assert Membership.all_brands.filter(brand=acme).count() == 21


def test_concurrent_duplicates_of_different_incidents_never_fail(acme, alice, file_incident):
    """Dedup hits on several incidents at once (a gthread worker's threads): all 200."""
    keys = [f"wave-{i}" for i in range(4)]
    for key in keys:
        file_incident(dedup_key=key)
    clients = [client_for(alice) for _ in range(16)]

    def post(numbered):
        i, client = numbered
        return [
            client.post(
                "/api/v1/incidents/",
                {"brand": "acme", "title": "again", "dedup_key": keys[i % 4]},
                format="json",
            ).status_code
            for _ in range(5)
        ]

    codes = [code for batch in all_at_once(post, list(enumerate(clients))) for code in batch]
    assert codes == [200] * 80
    assert sum(Incident.all_brands.filter(brand=acme).values_list("duplicate_count", flat=True)) == 80


def test_first_reports_of_one_crisis_at_once_open_one_incident(acme, alice):
    """
    Twelve monitoring tools report the same new crisis at the same moment: each finds
    no open incident with the key, one INSERT wins, the others' are refused by the
    unique constraint and retried as duplicates. One 201, eleven 200, nothing lost.
    """
    clients = [client_for(alice) for _ in range(12)]

    def post(client):
        response = client.post(
            "/api/v1/incidents/",
            {"brand": "acme", "title": "Fake story spreads", "dedup_key": "fake-story"},
            format="json",
        )
        return response.status_code, response.json()

    results = all_at_once(post, clients)
    assert sorted(code for code, _ in results) == [200] * 11 + [201]
    incident = Incident.all_brands.get(brand=acme, dedup_key="fake-story")
    assert {body["id"] for _, body in results} == {incident.pk}
    assert incident.duplicate_count == 11
    assert sorted(body["duplicate_count"] for _, body in results) == list(range(12))
    kinds = TimelineEvent.all_brands.filter(incident=incident).values_list("kind", flat=True)
    assert sorted(kinds) == sorted([EventKind.CREATED] + [EventKind.DUPLICATE] * 11)
