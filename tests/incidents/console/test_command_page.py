"""
Incident command on the incident page: a severity change shows its deadlines before it is
made, roles are shown and given, related incidents are found, linked and merged, and the
update composer says when the next update is due.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents.models import Incident, StatusUpdate, TimelineEvent

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def fresh(incident):
    return Incident.all_brands.get(pk=incident.pk)


def test_a_severity_change_shows_the_new_deadlines_before_it_is_made(web, alice, file_incident):
    with time_machine.travel(T0, tick=False):
        incident = file_incident(severity="medium")
    client = web(alice)
    with time_machine.travel(T0 + timedelta(minutes=15), tick=False):
        page = client.post(
            f"/incidents/{incident.pk}/severity/", {"severity": "critical", "reason": "National TV called"}
        )
        assert page.status_code == 200
        text = page.content.decode()
        assert 'id="severity-preview"' in text
        assert "12:10" in text  # the new acknowledge deadline, T0 + 10 min
        assert "the escalation starts as soon as you confirm" in text
        assert fresh(incident).severity == "medium"  # nothing changed yet

        done = client.post(
            f"/incidents/{incident.pk}/severity/",
            {"severity": "critical", "reason": "National TV called", "confirm": "on"},
            follow=True,
        )
    assert done.status_code == 200
    assert "Severity changed to Critical" in done.content.decode()
    row = fresh(incident)
    assert (row.severity, row.ack_due_at, row.escalation_level) == ("critical", T0 + timedelta(minutes=10), 1)


def test_a_severity_change_without_a_reason_keeps_the_choice(web, alice, file_incident):
    incident = file_incident()
    page = web(alice).post(f"/incidents/{incident.pk}/severity/", {"severity": "high", "reason": " "})
    assert page.status_code == 400
    assert fresh(incident).severity == "medium"


def test_roles_are_shown_and_given(web, alice, bob, dave, file_incident, incident_in):
    incident = incident_in(file_incident(), "acknowledged", manager=alice, responder=bob)
    client = web(alice)
    response = client.post(
        f"/incidents/{incident.pk}/roles/", {"role": "commander", "username": "dave"}, follow=True
    )
    text = response.content.decode()
    assert "Role saved." in text
    assert '<dd data-role="commander">dave</dd>' in text
    assert fresh(incident).commander_id == dave.pk
    # bob (the assignee, not the commander) sees the roles but no form to give them.
    bobs = web(bob).get(f"/incidents/{incident.pk}/").content.decode()
    assert '<dd data-role="commander">dave</dd>' in bobs and 'id="roles-form"' not in bobs


def test_a_role_for_someone_of_another_brand_is_refused_on_the_form(web, alice, mallory, file_incident):
    incident = file_incident()
    response = web(alice).post(f"/incidents/{incident.pk}/roles/", {"role": "scribe", "username": "mallory"})
    assert response.status_code == 400
    assert "Not a responder or manager of this brand." in response.content.decode()


def test_find_link_and_merge(web, alice, bob, file_incident, globex, mallory):
    here = file_incident(title="Angry comments under the promo")
    other = file_incident(title="Promo wave on Telegram")
    file_incident(brand=globex, by=mallory, title="Promo wave at Globex")
    client = web(alice)
    found = client.get(f"/incidents/{here.pk}/?find=promo+wave").content.decode()
    assert f'data-found="{other.pk}"' in found
    assert "Globex" not in found  # only the brand's own incidents
    assert f'<input type="hidden" name="into" value="{other.pk}">' in found  # a manager may merge
    assert '<span class="muted">Detected</span>' in found
    by_number = client.get(f"/incidents/{here.pk}/?find=%23{other.pk}").content.decode()
    assert f'data-found="{other.pk}"' in by_number

    linked = client.post(f"/incidents/{here.pk}/link/", {"incident": other.pk}, follow=True).content.decode()
    assert f'data-linked="{other.pk}"' in linked
    assert fresh(other).links == [{"incident": here.pk, "kind": "related"}]

    merged = client.post(f"/incidents/{here.pk}/merge/", {"into": other.pk}, follow=True).content.decode()
    assert f"Merged into #{other.pk}" in merged
    assert 'id="merged-into"' in merged
    assert fresh(here).merged_into_id == other.pk


def test_the_update_composer_says_when_the_next_is_due(web, alice, bob, file_incident, incident_in):
    with time_machine.travel(T0, tick=False):
        incident = file_incident(severity="critical")
        incident_in(incident, "acknowledged", manager=alice, responder=bob)
        page = web(bob).get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="next-update"' in page and "12:30" in page
    sent = web(bob).post(
        f"/incidents/{incident.pk}/update/",
        {"audience": "stakeholders", "body": "We found the cause."},
        follow=True,
    )
    assert "Status update sent." in sent.content.decode()
    assert StatusUpdate.all_brands.get(incident=incident).audience == "stakeholders"
    assert TimelineEvent.all_brands.filter(incident=incident, kind="status_update").exists()


def test_a_viewer_sees_no_command_forms(web, carol, file_incident):
    page = web(carol).get(f"/incidents/{file_incident().pk}/").content.decode()
    for form in ("roles-form", "severity-form", "find-form", "update-form"):
        assert f'id="{form}"' not in page


@pytest.mark.parametrize("action", ["roles", "link", "merge", "update"])
def test_a_viewer_posting_anyway_gets_a_403(web, carol, file_incident, action):
    incident, other = file_incident(), file_incident()
    body = {
        "role": "scribe",
        "username": "carol",
        "incident": other.pk,
        "into": other.pk,
        "body": "x",
        "audience": "team",
    }
    assert web(carol).post(f"/incidents/{incident.pk}/{action}/", body).status_code == 403
    assert fresh(incident).state == "detected" and fresh(incident).links == []
