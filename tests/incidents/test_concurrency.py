"""Concurrent claims on PostgreSQL: exactly one wins, the rest get 409 already_claimed."""

import threading

import pytest
from django.db import connection

from crisis.models import Membership, Role
from incidents.models import EventKind, Incident, TimelineEvent
from tests.conftest import client_for, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_concurrent_claims_one_winner(acme, file_incident):
    incident = file_incident(severity="critical")
    responders = [make_user(f"responder{i}", acme, Role.RESPONDER) for i in range(20)]
    clients = [client_for(user) for user in responders]
    barrier = threading.Barrier(len(clients))
    results = []

    def claim(client):
        barrier.wait()
        try:
            response = client.post(f"/api/v1/incidents/{incident.pk}/claim/")
            results.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

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
    assert Membership.objects.filter(brand=acme).count() == 21


def test_concurrent_duplicates_of_different_incidents_never_fail(acme, alice, file_incident):
    """Dedup hits on several incidents at once (a gthread worker's threads): all 200."""
    keys = [f"wave-{i}" for i in range(4)]
    for key in keys:
        file_incident(dedup_key=key)
    clients = [client_for(alice) for _ in range(16)]
    barrier = threading.Barrier(len(clients))
    codes = []

    def post(i, client):
        barrier.wait()
        try:
            for _ in range(5):
                response = client.post("/api/v1/incidents/", {
                    "brand": "acme", "title": "again", "dedup_key": keys[i % 4]}, format="json")
                codes.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 80
    assert sum(Incident.all_brands.filter(brand=acme).values_list("duplicate_count", flat=True)) == 80
