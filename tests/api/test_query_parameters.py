"""Unknown query parameters are a 400 on the API, as unknown body fields are (API.md, Conventions)."""

import re

import pytest
from django.urls import resolve

from incidents.models import Incident

UNKNOWN = ["Unknown query parameter."]


def test_a_misspelt_filter_is_a_400_naming_it(api, bob, file_incident):
    file_incident(severity="low")
    response = api(bob).get("/api/v1/incidents/?severty=critical")
    assert response.status_code == 400
    assert response.json() == {"severty": UNKNOWN}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/incidents/?state=detected,acknowledged&severity=low&assignee=me&q=x&ordering=-created_at"
        "&detected_since=2026-01-01T00:00:00Z&page=1&page_size=10&format=json",
        "/api/v1/brands/?page=1",
        "/api/v1/brands/acme/",
        "/api/v1/playbooks/?category=other&language=en",
        "/api/v1/response-templates/?category=other&language=ru&page_size=5",
        "/api/v1/reports/response-times/?brand=acme&group_by=severity&format=csv",
        "/api/v1/reports/timeline/?since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z",
    ],
)
def test_the_parameters_a_view_knows_are_accepted(api, alice, path):
    assert api(alice).get(path).status_code == 200


@pytest.mark.parametrize(
    ("path", "unknown"),
    [
        ("/api/v1/incidents/?page=1&sort=severity&tz=UTC", ["sort", "tz"]),
        ("/api/v1/brands/acme/sla/?brand=acme", ["brand"]),
        ("/api/v1/reports/response-times/?group=brand", ["group"]),
        ("/api/v1/me/channels/?state=detected", ["state"]),  # another view's filter
    ],
)
def test_each_unknown_one_is_named(api, alice, path, unknown):
    response = api(alice).get(path)
    assert (response.status_code, response.json()) == (400, dict.fromkeys(unknown, UNKNOWN))


def test_a_write_with_an_unknown_parameter_does_nothing(api, bob):
    response = api(bob).post("/api/v1/incidents/?dry_run=1", {"brand": "acme", "title": "x"}, format="json")
    assert (response.status_code, response.json()) == (400, {"dry_run": UNKNOWN})
    assert not Incident.all_brands.exists()


def test_an_actions_own_filters_are_its_own(api, bob, file_incident):
    incident = file_incident()
    client = api(bob)
    assert client.get(f"/api/v1/incidents/{incident.pk}/timeline/?page=1").status_code == 200
    response = client.get(f"/api/v1/incidents/{incident.pk}/timeline/?severity=low")
    assert (response.status_code, response.json()) == (400, {"severity": UNKNOWN})


def test_every_parameter_the_schema_names_is_accepted(api, alice):
    """The schema and the check both read the views: what one documents the other accepts."""
    from api.middleware import query_parameters_of

    schema = api(alice).get("/api/schema/?format=json").json()
    checked = 0
    for template, operations in schema["paths"].items():
        if not template.startswith("/api/v1/") or template.startswith("/api/v1/integrations/"):
            continue
        accepted = query_parameters_of(resolve(re.sub(r"\{[^}]+\}", "1", template)).func)
        for method, operation in operations.items():
            documented = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            assert documented <= accepted, (method, template, documented - accepted)
            checked += len(documented)
    assert checked > 20


def test_the_console_is_not_the_api(client, bob):
    client.force_login(bob)
    assert client.get("/?severty=critical&utm_source=mail").status_code == 200


def test_a_view_may_accept_anything(rf):
    """Integration adapters declare `query_parameters = None`: the senders' shapes rule."""
    from rest_framework.views import APIView

    from api.middleware import query_parameters_of

    class Adapter(APIView):
        query_parameters = None

    class Strict(APIView):
        query_parameters = ("since",)

    assert query_parameters_of(Adapter.as_view()) is None
    assert query_parameters_of(Strict.as_view()) == {"format", "since"}
    assert query_parameters_of(lambda request: None) is None
