"""The timeline is append-only and readable in order."""

import pytest

from incidents.models import TimelineEvent
from playbooks.models import ChecklistStep


def test_events_cannot_be_changed_or_deleted_through_the_orm(file_incident):
    incident = file_incident()
    event = TimelineEvent.all_brands.get(incident=incident)
    event.kind = "comment"
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        TimelineEvent.all_brands.filter(pk=event.pk).update(kind="comment")
    with pytest.raises(TypeError):
        TimelineEvent.all_brands.filter(pk=event.pk).delete()
    assert TimelineEvent.all_brands.get(pk=event.pk).kind == "created"


def test_timeline_endpoint_lists_events_in_order(api, alice, bob, file_incident, incident_in):
    incident = incident_in(file_incident(), "resolved", manager=alice, responder=bob)
    api(bob).post(f"/api/v1/incidents/{incident.pk}/comments/", {"body": "Posted the apology"}, format="json")
    response = api(bob).get(f"/api/v1/incidents/{incident.pk}/timeline/")
    assert response.status_code == 200
    rows = response.data["results"]
    kinds = [r["kind"] for r in rows]
    # The "other" playbook's required steps, each ticked off once before resolving.
    steps = ChecklistStep._base_manager.filter(incident=incident, required=True).count()
    assert steps > 0
    assert kinds == [
        "created",
        "claimed",
        "investigating",
        *["step_completed"] * steps,
        "resolved",
        "comment",
    ]
    assert rows[1] == {**rows[1], "actor": "bob", "from_state": "detected", "to_state": "acknowledged"}
    assert rows[-1]["data"] == {"body": "Posted the apology"}
    assert set(rows[0]) == {"at", "kind", "actor", "from_state", "to_state", "data"}
