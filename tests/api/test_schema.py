"""The OpenAPI schema names the contract; the docs page needs no CDN."""

from django.test import Client


def test_schema_names_every_contract_path(db):
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/v1/auth/token/",
        "/api/v1/auth/logout/",
        "/api/v1/brands/",
        "/api/v1/brands/{slug}/",
        "/api/v1/brands/{slug}/members/",
        "/api/v1/brands/{slug}/members/{username}/",
        "/api/v1/brands/{slug}/sla/",
        "/api/v1/brands/{slug}/keys/",
        "/api/v1/brands/{slug}/keys/{key_id}/",
        "/api/v1/incidents/",
        "/api/v1/incidents/{id}/",
        "/api/v1/incidents/{id}/claim/",
        "/api/v1/incidents/{id}/investigate/",
        "/api/v1/incidents/{id}/resolve/",
        "/api/v1/incidents/{id}/review/",
        "/api/v1/incidents/{id}/reopen/",
        "/api/v1/incidents/{id}/reassign/",
        "/api/v1/incidents/{id}/timeline/",
        "/api/v1/incidents/{id}/comments/",
        "/api/v1/brands/{slug}/statement-route/",
        "/api/v1/incidents/{incident_pk}/statements/",
        "/api/v1/incidents/{incident_pk}/statements/{id}/",
        "/api/v1/incidents/{incident_pk}/statements/{id}/submit/",
        "/api/v1/incidents/{incident_pk}/statements/{id}/approve/",
        "/api/v1/incidents/{incident_pk}/statements/{id}/reject/",
        "/api/v1/incidents/{incident_pk}/statements/{id}/publish/",
        "/api/v1/incidents/{incident_pk}/statements/{id}/diff/",
    ]:
        assert path in paths, path
    incident = response.json()["components"]["schemas"]["IncidentOutput"]
    assert "state" in incident["properties"]
    assert incident["properties"]["state"].get("readOnly") is True


def test_docs_page_is_served_without_a_cdn(db):
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert b"cdn.jsdelivr" not in response.content
    assert b"unpkg.com" not in response.content
