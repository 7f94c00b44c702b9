"""The admin's actions with a hostile selection: a message, never a 500."""

import pytest

from incidents.models import Incident


@pytest.mark.parametrize("selected", ["1\x00", "abc", "9" * 40])
@pytest.mark.parametrize(
    ("path", "action"),
    [
        ("/admin/incidents/incident/", "claim"),
        ("/admin/crisis/brandkey/", "revoke"),
        ("/admin/crisis/brand/", "delete_selected"),
    ],
)
def test_an_action_on_a_malformed_selection_changes_nothing(
    client, root, acme_key, file_incident, path, action, selected
):
    incident = file_incident()
    client.force_login(root)
    response = client.post(
        path, {"action": action, "_selected_action": [str(incident.pk), selected], "index": "0"}
    )
    assert response.status_code == 302
    assert Incident.all_brands.get().state == "detected"
    assert acme_key.brand.keys.usable().exists()
