"""The web console through Django's test client (the browser tests are in tests/browser/)."""

import pytest
from django.test import Client

from crisis.models import Brand, Invitation


@pytest.fixture
def web():
    def _login(user):
        client = Client()
        client.force_login(user)
        return client

    return _login


def test_pages_need_a_login(db):
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert Client().get("/login/").status_code == 200


def test_queue_shows_my_brands_open_incidents_by_deadline(web, bob, globex, mallory, file_incident):
    low = file_incident(title="Low one", severity="low")
    critical = file_incident(title="Critical one", severity="critical")
    file_incident(brand=globex, by=mallory, title="Globex secret")
    page = web(bob).get("/").content.decode()
    assert page.index("Critical one") < page.index("Low one")
    assert "Globex secret" not in page
    rows = web(bob).get("/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in rows and f'data-incident="{critical.pk}"' in rows
    assert f'data-incident="{low.pk}"' not in web(bob).get("/?severity=critical").content.decode()


def test_other_brands_pages_are_404(web, bob, globex, mallory, file_incident):
    theirs = file_incident(brand=globex, by=mallory)
    client = web(bob)
    assert client.get(f"/incidents/{theirs.pk}/").status_code == 404
    assert client.post(f"/incidents/{theirs.pk}/claim/").status_code == 404
    assert client.get("/brands/globex/settings/").status_code == 404
    assert client.get("/brands/globex/dashboard/").status_code == 404
    assert client.get("/brands/acme/settings/").status_code == 403  # bob is only a responder


def test_claim_and_complete_a_step_through_the_console(web, bob, file_incident):
    incident = file_incident()
    client = web(bob)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'data-action="claim"' in page
    client.post(f"/incidents/{incident.pk}/claim/")
    incident.refresh_from_db()
    assert (incident.state, incident.assignee) == ("acknowledged", bob)
    step = incident.checklist.first()
    client.post(f"/incidents/{incident.pk}/steps/{step.pk}/complete/", {"note": "done"})
    step.refresh_from_db()
    assert step.completed_by == bob


def test_refused_action_is_a_message_not_an_error(web, bob, alice, file_incident, incident_in):
    incident = incident_in(file_incident(), "investigated", manager=alice, responder=bob)
    response = web(bob).post(f"/incidents/{incident.pk}/resolve/", {"resolution": "x"})
    assert response.status_code == 409  # the page again, with the reason and the typed text
    assert "Required playbook steps are still open." in response.content.decode()
    incident.refresh_from_db()
    assert incident.state == "investigated"


def test_csrf_is_enforced(bob, file_incident):
    incident = file_incident()
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    assert client.post(f"/incidents/{incident.pk}/claim/").status_code == 403


def test_console_speaks_russian(web, bob, file_incident):
    file_incident()
    page = web(bob).get("/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Открытые инциденты" in page


def test_dashboard_renders_for_managers(web, alice, bob, file_incident):
    file_incident()
    assert web(alice).get("/brands/acme/dashboard/").status_code == 200


def test_rejected_form_shows_its_errors_next_to_the_field(web, bob, alice, file_incident, incident_in):
    incident = incident_in(file_incident(), "investigated", manager=alice, responder=bob)
    response = web(bob).post(f"/incidents/{incident.pk}/resolve/", {"resolution": ""})
    assert response.status_code == 400
    page = response.content.decode()
    assert page.index("errorlist") < page.index('data-action="resolve"')
    assert "This field is required." in page


def test_a_storm_incident_page_shows_the_latest_events_and_links_the_rest(web, bob, file_incident, settings):
    from incidents.console import views
    from incidents.models import EventKind, TimelineEvent

    incident = file_incident(dedup_key="storm")
    first_at = TimelineEvent.all_brands.get(incident=incident).at
    TimelineEvent.all_brands.bulk_create(
        [
            TimelineEvent(
                incident=incident,
                at=first_at,
                kind=EventKind.COMMENT,
                actor_label="bob",
                data={"body": f"report {i}"},
            )
            for i in range(views.EVENTS_ON_PAGE + 50)
        ]
    )
    page = web(bob).get(f"/incidents/{incident.pk}/").content.decode()
    assert page.count("report ") == views.EVENTS_ON_PAGE
    assert f"report {views.EVENTS_ON_PAGE + 49}" in page and "report 49<" not in page
    assert f"of {views.EVENTS_ON_PAGE + 51}" in page
    assert f"/api/v1/incidents/{incident.pk}/timeline/?format=csv" in page
    assert web(bob).get(f"/api/v1/incidents/{incident.pk}/timeline/?format=csv").status_code == 200


def test_a_quiet_incident_page_shows_its_whole_timeline(web, bob, file_incident):
    incident = file_incident()
    page = web(bob).get(f"/incidents/{incident.pk}/").content.decode()
    assert "timeline/?format=csv" not in page


# --- Brand settings: one page, one view per form -------------------------------------------

# The SLA form takes minutes or hours: `<severity>_<kind>` is the amount, `…_unit` its unit.
GOOD_SLA = {
    f"{s}_{k}{part}": value
    for s in ("critical", "high", "medium", "low")
    for k in ("ack", "resolve")
    for part, value in (("", "10"), ("_unit", "minutes"))
}


def chain_post(*levels, repeat=0):
    """The escalation form as the page posts it: a management form, one entry per level, repeat; minutes."""
    data = {
        "levels-TOTAL_FORMS": str(len(levels)),
        "levels-INITIAL_FORMS": "0",
        "levels-MIN_NUM_FORMS": "0",
        "levels-MAX_NUM_FORMS": "10",
        "repeat": str(repeat),
    }
    for i, (minutes, roles, users) in enumerate(levels):
        data.update(
            {
                f"levels-{i}-after": str(minutes),
                f"levels-{i}-after_unit": "minutes",
                f"levels-{i}-users": users,
            }
        )
        data[f"levels-{i}-roles"] = roles
    return data


SETTINGS_POSTS = {
    "sla/": GOOD_SLA,
    "escalation/": chain_post((0, ["manager"], "")),
    "members/": {"username": "dave", "role": "manager"},
    "members/remove/": {"username": "alice"},
    "invitations/": {"email": "erin@example.test", "role": "manager"},
    "invitations/revoke/": {"invitation": "1"},
    "keys/": {"name": "youscan"},
    "keys/revoke/": {"key": "1"},
}


def test_the_settings_page_posts_each_form_to_its_own_view(web, acme, alice, acme_key):
    from crisis.services import invitation_create
    from crisis.tenancy import Principal

    # A pending invitation, so that its withdraw form is on the page too.
    invitation_create(principal=Principal.for_user(alice), brand=acme, email="e@example.test", role="viewer")
    page = web(alice).get("/brands/acme/settings/").content.decode()
    for url in SETTINGS_POSTS:
        assert f'action="/brands/acme/settings/{url}"' in page
    assert 'name="section"' not in page


@pytest.mark.parametrize("url", SETTINGS_POSTS)
def test_only_the_brands_managers_may_post_settings(url, web, acme, alice, bob, mallory, acme_key):
    before = (
        list(acme.memberships.values_list("user__username", "role").order_by("pk")),
        list(acme.keys.values_list("pk", "revoked_at").order_by("pk")),
    )
    data = SETTINGS_POSTS[url]
    assert web(bob).post(f"/brands/acme/settings/{url}", data).status_code == 403  # a responder
    assert web(mallory).post(f"/brands/acme/settings/{url}", data).status_code == 404  # another brand's
    assert web(alice).get(f"/brands/acme/settings/{url}").status_code == 405
    after = (
        list(acme.memberships.values_list("user__username", "role").order_by("pk")),
        list(acme.keys.values_list("pk", "revoked_at").order_by("pk")),
    )
    assert after == before
    assert not Invitation.all_brands.exists()
    assert not acme.sla_policies.exists()
    assert not hasattr(Brand.objects.get(pk=acme.pk), "escalation_policy")


def test_sla_form_rejects_bad_values_next_to_the_field(web, acme, alice):
    client = web(alice)
    bad = client.post("/brands/acme/settings/sla/", {**GOOD_SLA, "critical_ack": "0"})
    assert bad.status_code == 400
    page = bad.content.decode()
    assert 'class="field duration-row invalid"' in page and 'id="sla-form"' in page
    assert not acme.sla_policies.exists()
    ok = client.post("/brands/acme/settings/sla/", {**GOOD_SLA, "critical_ack": "5"}, follow=True)
    assert ok.redirect_chain == [("/brands/acme/settings/", 302)]
    assert "SLA targets saved." in ok.content.decode()
    assert acme.sla_policies.get(severity="critical").ack_seconds == 300


def test_escalation_chain_saves_and_rejects(web, acme, alice, bob):
    client = web(alice)
    ok = client.post(
        "/brands/acme/settings/escalation/",
        chain_post((0, ["manager"], "bob"), (5, ["executive"], ""), repeat=2),
        follow=True,
    )
    assert ok.redirect_chain == [("/brands/acme/settings/", 302)]
    assert "Escalation chain saved." in ok.content.decode()
    chain = Brand.objects.get(pk=acme.pk).escalation_policy.chain
    assert [level["after_seconds"] for level in chain["levels"]] == [0, 300]
    assert chain["levels"][0]["users"] == ["bob"] and chain["repeat"] == 2

    # A form error (negative minutes) and a rule of the service's input (a stranger) re-render the page.
    for data in (chain_post((-5, ["manager"], "")), chain_post((0, ["manager"], "nobody-here"))):
        bad = client.post("/brands/acme/settings/escalation/", data)
        assert bad.status_code == 400
        assert "errorlist" in bad.content.decode() or "Not members of this brand" in bad.content.decode()
        assert Brand.objects.get(pk=acme.pk).escalation_policy.chain == chain


def test_members_roles_are_changed_and_members_removed(web, acme, alice, bob, mallory):
    client = web(alice)
    ok = client.post("/brands/acme/settings/members/", {"username": "bob", "role": "manager"}, follow=True)
    assert "Member saved." in ok.content.decode()
    assert acme.memberships.get(user__username="bob").role == "manager"

    bad = client.post("/brands/acme/settings/members/", {"username": "no spaces", "role": "owner"})
    assert bad.status_code == 400 and 'class="field invalid"' in bad.content.decode()
    assert not acme.memberships.filter(user__username="no spaces").exists()

    # Anyone who is not a member is invited instead, whether or not the account exists.
    for stranger in ("mallory", "nobody-here"):
        refused = client.post("/brands/acme/settings/members/", {"username": stranger, "role": "viewer"})
        assert "Not a member of this brand: invite them by e-mail." in refused.content.decode()
        assert not acme.memberships.filter(user__username=stranger).exists()

    removed = client.post("/brands/acme/settings/members/remove/", {"username": "bob"}, follow=True)
    assert "Member removed." in removed.content.decode()
    assert not acme.memberships.filter(user__username="bob").exists()

    # The last manager stays: the service refuses, the page says why.
    refused = client.post("/brands/acme/settings/members/remove/", {"username": "alice"}, follow=True)
    assert "A brand must keep at least one manager." in refused.content.decode()
    assert acme.memberships.filter(user__username="alice", role="manager").exists()


def test_keys_are_issued_once_and_revoked(web, acme, alice, acme_key, globex):
    from crisis.models import BrandKey

    client = web(alice)
    response = client.post("/brands/acme/settings/keys/", {"name": "brand analytics"}, follow=True)
    assert "shown once" in response.content.decode()
    assert acme.keys.filter(name="brand analytics").exists()

    bad = client.post("/brands/acme/settings/keys/", {"name": ""})
    assert bad.status_code == 400 and "errorlist" in bad.content.decode()

    theirs, _plain = BrandKey.issue(brand=globex, name="theirs")
    client.post("/brands/acme/settings/keys/revoke/", {"key": str(theirs.pk)})
    assert globex.keys.usable().filter(pk=theirs.pk).exists()  # another brand's key: untouched
    revoked = client.post("/brands/acme/settings/keys/revoke/", {"key": str(acme_key.pk)}, follow=True)
    assert "Key revoked." in revoked.content.decode()
    assert not acme.keys.usable().filter(pk=acme_key.pk).exists()


@pytest.mark.parametrize(
    "url, data",
    [
        ("keys/revoke/", {"key": "abc"}),
        ("keys/revoke/", {"key": "9" * 40}),
        ("keys/revoke/", {"key": "-1"}),
        ("members/remove/", {"username": "bo\x00b"}),
        ("members/remove/", {"username": "x" * 500}),
        ("members/", {"username": "bo\x00b", "role": "manager"}),
        ("invitations/", {"email": "a\x00b@example.test", "role": "viewer"}),
        ("invitations/revoke/", {"invitation": "9" * 40}),
        ("keys/", {"name": "a\x00b"}),
        ("sla/", {**GOOD_SLA, "low_ack": "9" * 40}),
        ("sla/", {**GOOD_SLA, "low_ack_unit": "fortnights"}),
        ("sla/", {**GOOD_SLA, "low_ack": "1e999"}),
    ],
)
def test_hostile_settings_input_is_not_a_500(url, data, web, alice):
    response = web(alice).post(f"/brands/acme/settings/{url}", data)
    assert response.status_code in (302, 400)


def test_a_rule_with_several_messages_reads_as_sentences(rf):
    """InvalidInput may carry a list (a password's validators): no Python list on the page."""
    from django.contrib.messages import get_messages
    from django.contrib.messages.storage.fallback import FallbackStorage

    from api.errors import InvalidInput
    from incidents.console import views

    request = rf.post("/")
    request.session, request._messages = {}, None
    request._messages = FallbackStorage(request)

    def refuse():
        raise InvalidInput(["Too short.", "Too common."], field="password")

    assert views._run(request, refuse) is False
    assert [str(m) for m in get_messages(request)] == ["Too short.", "Too common."]
