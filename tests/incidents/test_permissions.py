"""
The permission matrix: role by endpoint gives a status.

Personas: carol viewer, bob responder, alice manager (all acme), mallory
manager of globex, an acme integration key, and nobody. The incident is an
acme one prepared in the state where the action is allowed, claimed by bob.
Another brand's incident must be a 404 everywhere, never a 403.
"""

import pytest
from rest_framework.test import APIClient

from incidents.models import Incident
from tests.conftest import complete_required_steps

ROLES = ["viewer", "responder", "manager", "other_brand_manager", "key", "anonymous"]

# endpoint: (method, path suffix, body, state to prepare, expected per role in ROLES order)
MATRIX = {
    "list": ("get", "", None, "detected", [200, 200, 200, 200, 200, 401]),
    "retrieve": ("get", "{id}/", None, "detected", [200, 200, 200, 404, 404, 401]),
    "claim": ("post", "{id}/claim/", {}, "detected", [403, 200, 200, 404, 403, 401]),
    "investigate": ("post", "{id}/investigate/", {}, "acknowledged", [403, 200, 200, 404, 403, 401]),
    "resolve": (
        "post",
        "{id}/resolve/",
        {"resolution": "done"},
        "investigated",
        [403, 200, 200, 404, 403, 401],
    ),
    "review": (
        "post",
        "{id}/review/",
        {"summary": "s", "root_cause": "r", "lessons": "l", "follow_ups": []},
        "resolved",
        [403, 403, 200, 404, 403, 401],
    ),
    "reopen": ("post", "{id}/reopen/", {"reason": "back"}, "resolved", [403, 200, 200, 404, 403, 401]),
    "reassign": (
        "post",
        "{id}/reassign/",
        {"assignee": "dave"},
        "acknowledged",
        [403, 200, 200, 404, 403, 401],
    ),
    "timeline": ("get", "{id}/timeline/", None, "detected", [200, 200, 200, 404, 404, 401]),
    "comment": (
        "post",
        "{id}/comments/",
        {"body": "Checking logs"},
        "detected",
        [403, 201, 201, 404, 403, 401],
    ),
}


@pytest.fixture
def client_as(api, key_client, carol, bob, alice, mallory):
    by_role = {"viewer": carol, "responder": bob, "manager": alice, "other_brand_manager": mallory}

    def _client(role):
        if role == "key":
            return key_client
        if role == "anonymous":
            return APIClient()
        return api(by_role[role])

    return _client


@pytest.mark.parametrize("role_index,role", list(enumerate(ROLES)))
@pytest.mark.parametrize("endpoint", list(MATRIX))
def test_incident_endpoint_matrix(
    endpoint, role_index, role, client_as, file_incident, incident_in, alice, bob, dave
):
    method, suffix, body, state, expected = MATRIX[endpoint]
    incident = incident_in(file_incident(), state, manager=alice, responder=bob)
    if endpoint == "resolve":
        complete_required_steps(incident, bob)
    before = Incident.all_brands.values().get(pk=incident.pk)

    response = getattr(client_as(role), method)(
        "/api/v1/incidents/" + suffix.format(id=incident.pk), body, format="json"
    )

    assert response.status_code == expected[role_index], response.content
    if response.status_code >= 400:
        assert Incident.all_brands.values().get(pk=incident.pk) == before
    if endpoint == "list" and response.status_code == 200:
        ids = [row["id"] for row in response.data["results"]]
        # Only acme's members see it; the key sees only what it filed itself.
        assert (incident.pk in ids) == (role in ("viewer", "responder", "manager"))


@pytest.mark.parametrize("action", ["investigate", "resolve"])
def test_responder_who_is_not_the_assignee_is_403(action, api, file_incident, incident_in, alice, bob, dave):
    state = "acknowledged" if action == "investigate" else "investigated"
    incident = incident_in(file_incident(), state, manager=alice, responder=bob)
    response = api(dave).post(
        f"/api/v1/incidents/{incident.pk}/{action}/", {"resolution": "x"}, format="json"
    )
    assert response.status_code == 403


CREATE_EXPECTED = {
    "viewer": 403,
    "responder": 201,
    "manager": 201,
    "other_brand_manager": 400,
    "key": 201,
    "anonymous": 401,
}


@pytest.mark.parametrize("role", ROLES)
def test_create_matrix(role, client_as):
    response = client_as(role).post("/api/v1/incidents/", {"brand": "acme", "title": "Leak"}, format="json")
    assert response.status_code == CREATE_EXPECTED[role], response.content
    if role == "other_brand_manager":
        assert "brand" in response.data
    assert Incident.all_brands.count() == (1 if response.status_code == 201 else 0)


BRAND_MATRIX = {
    "brand": ("get", "", None, [200, 200, 200, 404, 403, 401]),
    "sla_get": ("get", "sla/", None, [200, 200, 200, 404, 403, 401]),
    "sla_put": (
        "put",
        "sla/",
        {sev: {"ack_seconds": 60, "resolve_seconds": 600} for sev in ("critical", "high", "medium", "low")},
        [403, 403, 200, 404, 403, 401],
    ),
    "members_get": ("get", "members/", None, [200, 200, 200, 404, 403, 401]),
    "members_post": (
        "post",
        "members/",
        {"username": "carol", "role": "responder"},
        [403, 403, 201, 404, 403, 401],
    ),
    "invitations_get": ("get", "invitations/", None, [403, 403, 200, 404, 403, 401]),
    "invitations_post": (
        "post",
        "invitations/",
        {"email": "erin@example.test", "role": "responder"},
        [403, 403, 202, 404, 403, 401],
    ),
    "keys_get": ("get", "keys/", None, [403, 403, 200, 404, 403, 401]),
    "keys_post": ("post", "keys/", {"name": "brandwatch"}, [403, 403, 201, 404, 403, 401]),
}


@pytest.mark.parametrize("role_index,role", list(enumerate(ROLES)))
@pytest.mark.parametrize("endpoint", list(BRAND_MATRIX))
def test_brand_endpoint_matrix(endpoint, role_index, role, client_as):
    method, suffix, body, expected = BRAND_MATRIX[endpoint]
    response = getattr(client_as(role), method)(f"/api/v1/brands/acme/{suffix}", body, format="json")
    assert response.status_code == expected[role_index], response.content


def test_unknown_incident_and_other_brands_incident_look_the_same(api, file_incident, globex, mallory, alice):
    theirs = file_incident(brand=globex, by=mallory)
    client = api(alice)
    missing = client.get("/api/v1/incidents/999999/")
    foreign = client.get(f"/api/v1/incidents/{theirs.pk}/")
    assert missing.status_code == foreign.status_code == 404
    assert missing.data == foreign.data


def test_a_key_reads_what_it_filed_including_a_dedup_hit_on_someone_elses(key_client, file_incident):
    mine = key_client.post("/api/v1/incidents/", {"title": "from the tool"}, format="json")
    assert key_client.get(f"/api/v1/incidents/{mine.data['id']}/timeline/").status_code == 200
    theirs = file_incident(dedup_key="shared-key")
    hit = key_client.post("/api/v1/incidents/", {"title": "same", "dedup_key": "shared-key"}, format="json")
    assert hit.status_code == 200  # API.md: the existing incident, whoever filed it
    assert (hit.data["id"], hit.data["duplicate_count"]) == (theirs.pk, 1)
