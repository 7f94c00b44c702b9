"""
NUL in the console's and the admin's forms and query strings (API.md, "Conventions"): refused
in usernames, choices and the admin's query strings, dropped from free text; never a 500.
"""

import pytest

from incidents.models import Incident, TimelineEvent


@pytest.fixture
def signed_in(client):
    def _sign_in(user, *, staff=False):
        if staff:
            user.is_staff = True
            user.save()
        client.force_login(user)
        return client

    return _sign_in


def test_a_reassign_to_a_username_holding_nul_is_a_form_error(
    signed_in, alice, bob, dave, file_incident, incident_in
):
    incident = incident_in(file_incident(), "acknowledged", manager=alice, responder=bob)
    response = signed_in(alice).post(f"/incidents/{incident.pk}/reassign/", {"assignee": "dave\x00"})
    assert response.status_code == 400
    assert "Null characters are not allowed." in response.content.decode()
    assert Incident.all_brands.get(pk=incident.pk).assignee == bob
    assert not TimelineEvent.all_brands.filter(incident=incident, kind="reassigned").exists()


def test_nul_is_dropped_from_the_text_people_write(signed_in, bob, file_incident):
    incident = file_incident()
    response = signed_in(bob).post(f"/incidents/{incident.pk}/comment/", {"body": "on\x00 it\x00"})
    assert response.status_code == 302
    comment = TimelineEvent.all_brands.get(incident=incident, kind="comment")
    assert comment.data["body"] == "on it"


def test_free_text_that_is_only_nul_is_blank(signed_in, bob, file_incident):
    incident = file_incident()
    response = signed_in(bob).post(f"/incidents/{incident.pk}/comment/", {"body": "\x00"})
    assert response.status_code == 400
    assert not TimelineEvent.all_brands.filter(incident=incident, kind="comment").exists()


# The queue's own filter form refuses NUL and names the dropped filter on the page
# (tests/incidents/console/test_queue.py, test_bad_filter_values_are_ignored_and_named_not_a_500).


@pytest.mark.parametrize(
    "path",
    [
        "/admin/incidents/incident/?state=%00",
        "/admin/incidents/incident/?q=%00",
        "/admin/incidents/incident/?brand__id__exact=1%00",
        "/admin/crisis/mention/?platform=vk%00",
        "/admin/playbooks/responsetemplate/?q=a%00",
    ],
)
def test_nul_in_the_admins_changelist_query_is_a_400(signed_in, root, file_incident, path):
    file_incident()
    response = signed_in(root).get(path)
    assert response.status_code == 400
