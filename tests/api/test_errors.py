"""Error answers speak the caller's language."""


def test_errors_speak_russian_when_asked(api, bob, file_incident, incident_in, alice):
    incident = incident_in(file_incident(), "resolved", manager=alice, responder=bob)
    response = api(bob).post(f"/api/v1/incidents/{incident.pk}/claim/", HTTP_ACCEPT_LANGUAGE="ru")
    assert response.status_code == 409
    assert response.data["detail"] == "В текущем состоянии инцидента это действие недоступно."
    english = api(bob).post(f"/api/v1/incidents/{incident.pk}/claim/")
    assert english.data["detail"] == "This action is not allowed in the incident's current state."
