"""Public statements (API.md, "Public statements"): versions, the approval route, publication."""

import pytest

from incidents.models import EventKind, Incident, Notification, StatementDecision, TimelineEvent
from playbooks.models import ResponseTemplate

# Two hops: the PR head (erin, by name) within 15 minutes, then legal (any executive) within 30.
ROUTE = {
    "hops": [
        {"name": "PR head", "users": ["erin"], "within_seconds": 900},
        {"name": "Legal", "roles": ["executive"], "within_seconds": 1800},
    ]
}


@pytest.fixture
def routed(acme, alice, erin, frank, api):
    response = api(alice).put("/api/v1/brands/acme/statement-route/", ROUTE, format="json")
    assert response.status_code == 200, response.content
    return response.data


@pytest.fixture
def incident(file_incident):
    return file_incident(severity="high", channel="vk")


def url(incident, statement=None, action=None):
    path = f"/api/v1/incidents/{incident.pk}/statements/"
    if statement is not None:
        path += f"{statement}/"
    if action:
        path += f"{action}/"
    return path


def draft(client, incident, body="We are sorry. Here is what happened and what we do now.", **extra):
    response = client.post(
        url(incident),
        {"channels": ["vk", "telegram"], "language": "en", "body": body, **extra},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.data


def kinds(incident):
    return [e.kind for e in TimelineEvent.all_brands.filter(incident=incident).order_by("at", "id")]


def test_two_hops_approve_in_order_then_publish(api, bob, erin, frank, routed, incident):
    statement = draft(api(bob), incident)
    assert statement["state"] == "draft" and statement["version"] == 1
    sid = statement["id"]
    submitted = api(bob).post(url(incident, sid, "submit"))
    assert submitted.status_code == 200, submitted.content
    assert submitted.data["state"] == "in_approval" and submitted.data["current_hop"] == 1
    first = submitted.data["hops"][0]
    assert (first["state"], first["people"]) == ("current", ["erin"])
    assert first["due_at"] is not None and submitted.data["hops"][1]["state"] == "pending"
    # Legal cannot decide before the PR head has.
    assert api(frank).post(url(incident, sid, "approve")).status_code == 403
    one = api(erin).post(url(incident, sid, "approve"), {"comment": "fine"}, format="json")
    assert one.status_code == 200, one.content
    assert one.data["current_hop"] == 2 and one.data["hops"][0]["by"] == "erin"
    assert one.data["hops"][1]["people"] == ["frank"]
    two = api(frank).post(url(incident, sid, "approve"))
    assert two.status_code == 200 and two.data["state"] == "approved"
    assert [h["decision"] for h in two.data["hops"]] == ["approved", "approved"]
    links = {"vk": "https://vk.com/wall-1_2", "telegram": "https://t.me/acme/7"}
    published = api(bob).post(url(incident, sid, "publish"), {"links": links}, format="json")
    assert published.status_code == 200, published.content
    assert (published.data["state"], published.data["links"]) == ("published", links)
    assert kinds(incident)[-5:] == [
        EventKind.STATEMENT_DRAFTED,
        EventKind.STATEMENT_SUBMITTED,
        EventKind.STATEMENT_APPROVED,
        EventKind.STATEMENT_APPROVED,
        EventKind.STATEMENT_PUBLISHED,
    ]
    event = TimelineEvent.all_brands.filter(incident=incident, kind=EventKind.STATEMENT_PUBLISHED).get()
    assert event.data["links"] == links
    approved = TimelineEvent.all_brands.filter(incident=incident, kind=EventKind.STATEMENT_APPROVED).first()
    assert (approved.data["hop"], approved.data["version"], approved.actor_label) == (1, 1, "erin")
    # The incident keeps its first public statement for the reports.
    incident.refresh_from_db()
    assert incident.first_statement_at == published.data["published_at"]


def test_a_reject_returns_to_draft_with_its_comment(api, bob, erin, routed, incident):
    bob.email = "bob@acme.example"
    bob.save()
    sid = draft(api(bob), incident)["id"]
    api(bob).post(url(incident, sid, "submit"))
    assert api(erin).post(url(incident, sid, "reject"), {}, format="json").status_code == 400  # a reason
    rejected = api(erin).post(url(incident, sid, "reject"), {"comment": "Too defensive."}, format="json")
    assert rejected.status_code == 200, rejected.content
    assert rejected.data["state"] == "draft" and rejected.data["current_hop"] is None
    hop = rejected.data["hops"][0]
    assert (hop["decision"], hop["by"], hop["comment"]) == ("rejected", "erin", "Too defensive.")
    event = TimelineEvent.all_brands.filter(incident=incident, kind=EventKind.STATEMENT_REJECTED).get()
    assert (event.data["hop"], event.data["version"], event.data["comment"]) == (1, 1, "Too defensive.")
    # The author is told who rejected it and why, before the text itself.
    told = Notification.all_brands.get(incident=incident, reason="statement_rejected")
    assert told.recipient == bob and told.body.startswith("Rejected by erin: Too defensive.\n\n")
    assert (told.payload["rejected_by"], told.payload["comment"]) == ("erin", "Too defensive.")
    # Rejected is a draft again: it can be edited and submitted again, from the first hop.
    again = api(bob).post(url(incident, sid, "submit"))
    assert again.status_code == 200 and again.data["hops"][0]["state"] == "current"


def test_an_edit_mid_route_is_a_new_version_and_restarts_it(api, bob, erin, frank, routed, incident):
    sid = draft(api(bob), incident)["id"]
    api(bob).post(url(incident, sid, "submit"))
    assert api(erin).post(url(incident, sid, "approve")).status_code == 200
    edited = api(bob).put(
        url(incident, sid), {"channels": ["vk", "telegram"], "body": "A better text."}, format="json"
    )
    assert edited.status_code == 200, edited.content
    assert (edited.data["state"], edited.data["version"], edited.data["current_hop"]) == ("in_approval", 2, 1)
    assert [h["decision"] for h in edited.data["hops"]] == [None, None]
    # Legal's turn has gone: the PR head must approve the new text first.
    assert api(frank).post(url(incident, sid, "approve")).status_code == 403
    assert api(erin).post(url(incident, sid, "approve")).data["current_hop"] == 2
    event = TimelineEvent.all_brands.filter(incident=incident, kind=EventKind.STATEMENT_EDITED).get()
    assert (event.data["version"], event.data["restarted"]) == (2, True)


def test_publish_before_every_hop_approved_is_409(api, bob, erin, routed, incident):
    sid = draft(api(bob), incident)["id"]
    links = {"links": {"vk": "https://vk.com/x", "telegram": "https://t.me/x"}}
    assert api(bob).post(url(incident, sid, "publish"), links, format="json").status_code == 409
    api(bob).post(url(incident, sid, "submit"))
    api(erin).post(url(incident, sid, "approve"))
    answer = api(bob).post(url(incident, sid, "publish"), links, format="json")
    assert answer.status_code == 409 and answer.data["code"] == "invalid_transition"
    incident.refresh_from_db()
    assert incident.first_statement_at is None


def test_a_person_outside_the_current_hop_is_403(api, alice, bob, dave, carol, routed, incident):
    sid = draft(api(bob), incident)["id"]
    api(bob).post(url(incident, sid, "submit"))
    # A manager who is not the PR head, another responder, a viewer: none of them decides hop 1.
    for person in (alice, dave, carol):
        assert api(person).post(url(incident, sid, "approve")).status_code == 403, person
        assert (
            api(person).post(url(incident, sid, "reject"), {"comment": "no"}, format="json").status_code
            == 403
        )
    assert not StatementDecision.all_brands.exists()


def test_another_brand_is_404(api, bob, mallory, globex, routed, incident):
    sid = draft(api(bob), incident)["id"]
    api(bob).post(url(incident, sid, "submit"))
    outsider = api(mallory)
    assert outsider.get(url(incident)).status_code == 404
    assert outsider.get(url(incident, sid)).status_code == 404
    assert outsider.post(url(incident), {"channels": ["vk"], "body": "x"}, format="json").status_code == 404
    for action in ("submit", "approve", "publish"):
        assert outsider.post(url(incident, sid, action), {}, format="json").status_code == 404, action
    assert outsider.get(url(incident, sid, "diff"), {"from": 1, "to": 1}).status_code == 404
    assert outsider.get("/api/v1/brands/acme/statement-route/").status_code == 404
    # Its own incident does not reach ours either.
    theirs = Incident.all_brands.create(
        brand=globex,
        title="x",
        detected_at=incident.detected_at,
        ack_due_at=incident.ack_due_at,
        resolve_due_at=incident.resolve_due_at,
    )
    assert api(bob).get(url(theirs)).status_code == 404


def test_three_edits_make_three_versions_and_a_diff(api, bob, routed, incident):
    client = api(bob)
    sid = draft(client, incident, body="Line one.\nLine two.\n")["id"]
    for body in ("Line one.\nLine 2.\n", "Line one.\nLine 2.\nLine three <b>bold</b>.\n"):
        assert (
            client.put(url(incident, sid), {"channels": ["vk"], "body": body}, format="json").status_code
            == 200
        )
    # The same text again is not a version.
    same = client.put(
        url(incident, sid),
        {"channels": ["vk"], "body": "Line one.\nLine 2.\nLine three <b>bold</b>.\n"},
        format="json",
    )
    assert same.data["version"] == 3
    detail = client.get(url(incident, sid)).data
    assert [v["number"] for v in detail["versions"]] == [1, 2, 3]
    assert detail["versions"][0]["channels"] == ["vk", "telegram"] and detail["channels"] == ["vk"]
    diff = client.get(url(incident, sid, "diff"), {"from": 1, "to": 3})
    assert diff.status_code == 200, diff.content
    assert diff.data["diff"] == (
        "--- version 1\n+++ version 3\n@@ -1,2 +1,3 @@\n Line one.\n-Line two.\n+Line 2.\n"
        "+Line three <b>bold</b>."
    )
    assert client.get(url(incident, sid, "diff"), {"from": 1, "to": 9}).status_code == 404
    assert client.get(url(incident, sid, "diff"), {"from": "x", "to": 2}).status_code == 400
    assert client.get(url(incident, sid, "diff"), {"to": 2}).status_code == 400
    assert client.get(url(incident, sid, "diff"), {"from": 1, "to": 2, "colour": 1}).status_code == 400


def test_the_author_cannot_approve_their_own_statement(api, erin, routed, incident):
    # erin is the PR head of hop 1, and wrote the statement.
    sid = draft(api(erin), incident)["id"]
    api(erin).post(url(incident, sid, "submit"))
    answer = api(erin).post(url(incident, sid, "approve"))
    assert answer.status_code == 403
    assert "author" in answer.data["detail"]


def test_an_editor_cannot_approve_the_version_they_wrote(api, bob, erin, routed, incident):
    sid = draft(api(bob), incident)["id"]
    api(bob).post(url(incident, sid, "submit"))
    api(erin).put(url(incident, sid), {"channels": ["vk"], "body": "erin's words"}, format="json")
    assert api(erin).post(url(incident, sid, "approve")).status_code == 403


def test_submit_with_no_route_is_409(api, bob, incident):
    sid = draft(api(bob), incident)["id"]
    answer = api(bob).post(url(incident, sid, "submit"))
    assert answer.status_code == 409 and answer.data["code"] == "conflict"


def test_start_from_a_template_with_placeholders_filled(api, bob, acme, incident):
    template = ResponseTemplate.objects.create(
        brand=acme, name="apology", category="other", language="ru", body="{brand}: {title}. {next_step}"
    )
    client = api(bob)
    missing = client.post(url(incident), {"channels": ["vk"], "template": template.pk}, format="json")
    assert missing.status_code == 400 and "next_step" in str(missing.data)
    made = client.post(
        url(incident),
        {"channels": ["vk"], "template": template.pk, "values": {"next_step": "We call everyone back."}},
        format="json",
    )
    assert made.status_code == 201, made.content
    assert made.data["body"] == f"Acme Coffee: {incident.title}. We call everyone back."
    assert (made.data["language"], made.data["template"]) == ("ru", template.pk)


@pytest.mark.parametrize("body", ["{brand", "{title.__class__}", "{title:>99}"])
def test_a_malformed_template_saved_around_the_api_is_a_400_and_writes_nothing(
    body, api, bob, acme, incident
):
    # The API refuses such a body when a template is saved; the admin or an old row need not have.
    template = ResponseTemplate.objects.create(
        brand=acme, name="broken", category="other", language="ru", body=body
    )
    client = api(bob)
    started = client.post(url(incident), {"channels": ["vk"], "template": template.pk}, format="json")
    assert started.status_code == 400 and "template" in started.data, started.content
    rendered = client.post(
        f"/api/v1/response-templates/{template.pk}/render/", {"incident": incident.pk}, format="json"
    )
    assert rendered.status_code == 400 and "template" in rendered.data, rendered.content
    assert client.get(url(incident)).data["results"] == []


def test_viewers_cannot_write_and_approved_statements_cannot_be_edited(
    api, carol, bob, erin, frank, routed, incident
):
    assert api(carol).post(url(incident), {"channels": ["vk"], "body": "x"}, format="json").status_code == 403
    sid = draft(api(bob), incident)["id"]
    api(bob).post(url(incident, sid, "submit"))
    api(erin).post(url(incident, sid, "approve"))
    api(frank).post(url(incident, sid, "approve"))
    edit = api(bob).put(url(incident, sid), {"channels": ["vk"], "body": "late change"}, format="json")
    assert edit.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"channels": [], "body": "x"},
        {"channels": ["myspace"], "body": "x"},
        {"channels": ["vk"]},
        {"channels": ["vk"], "body": "x", "language": "klingon"},
        {"channels": ["vk"], "body": "x", "colour": "red"},
        {"channels": "vk", "body": "x"},
        {"channels": ["vk"], "body": "x", "template": 10**19},
        {"channels": ["vk"], "body": "x", "template": 999999},
        [],
    ],
)
def test_bad_statements_are_400(body, api, bob, incident):
    assert api(bob).post(url(incident), body, format="json").status_code == 400


def test_publish_needs_a_link_for_every_channel(api, bob, erin, frank, routed, incident):
    sid = draft(api(bob), incident)["id"]
    api(bob).post(url(incident, sid, "submit"))
    api(erin).post(url(incident, sid, "approve"))
    api(frank).post(url(incident, sid, "approve"))
    for links in (
        {"vk": "https://vk.com/x"},
        {"vk": "https://vk.com/x", "telegram": "javascript:alert(1)"},
        {"vk": "https://vk.com/x", "telegram": "https://t.me/x", "x": "https://x.com/y"},
        {"vk": "https://vk.com/x", "telegram": "https://t.me/x", "nowhere": "https://x.com/y"},
    ):
        assert (
            api(bob).post(url(incident, sid, "publish"), {"links": links}, format="json").status_code == 400
        )


def test_route_is_for_managers_and_names_members(api, alice, bob, acme):
    assert api(bob).put("/api/v1/brands/acme/statement-route/", ROUTE, format="json").status_code == 403
    stranger = {"hops": [{"name": "x", "users": ["nobody"], "within_seconds": 60}]}
    assert api(alice).put("/api/v1/brands/acme/statement-route/", stranger, format="json").status_code == 400
    empty = {"hops": [{"name": "x", "within_seconds": 60}]}
    assert api(alice).put("/api/v1/brands/acme/statement-route/", empty, format="json").status_code == 400
    zero = {"hops": [{"name": "x", "roles": ["manager"], "within_seconds": 0}]}
    assert api(alice).put("/api/v1/brands/acme/statement-route/", zero, format="json").status_code == 400
    assert api(bob).get("/api/v1/brands/acme/statement-route/").data == {"hops": []}


def test_a_hop_naming_a_schedule_is_decided_by_whoever_is_on_call(api, alice, bob, dave, acme, incident):
    from datetime import UTC, datetime

    from crisis import oncall

    schedule = oncall.schedule_create(
        brand=acme,
        name="Comms duty",
        time_zone="UTC",
        layers=[
            {
                "name": "all week",
                "users": ["dave"],
                "start": datetime(2026, 1, 1, tzinfo=UTC),
                "shift": {"every": 1, "unit": "weeks"},
                "restrictions": [],
            }
        ],
    )
    route = {"hops": [{"name": "On duty", "schedules": [schedule.pk], "within_seconds": 600}]}
    assert api(alice).put("/api/v1/brands/acme/statement-route/", route, format="json").status_code == 200
    sid = draft(api(bob), incident)["id"]
    assert api(bob).post(url(incident, sid, "submit")).data["hops"][0]["people"] == ["dave"]
    assert api(alice).post(url(incident, sid, "approve")).status_code == 403
    assert api(dave).post(url(incident, sid, "approve")).data["state"] == "approved"


def test_the_list_runs_a_fixed_number_of_queries(
    api, bob, erin, routed, incident, django_assert_max_num_queries
):
    client = api(bob)
    for _ in range(2):
        sid = draft(client, incident)["id"]
        client.post(url(incident, sid, "submit"))
        client.put(url(incident, sid), {"channels": ["vk"], "body": "v2"}, format="json")
    # Who the caller is (2), the incident, the page (count, rows, decisions, versions), the
    # brand's route, its members and their channels: 10, however many statements.
    with django_assert_max_num_queries(10):
        assert client.get(url(incident)).data["count"] == 2
    for _ in range(3):
        sid = draft(client, incident)["id"]
        client.post(url(incident, sid, "submit"))
        api(erin).post(url(incident, sid, "approve"))
    with django_assert_max_num_queries(10):
        assert client.get(url(incident)).data["count"] == 5


@pytest.mark.parametrize(
    "language,words",
    [
        ("en", ["Hop 1 (PR head) approved version 1.", "Version 1, posted on VK, Telegram."]),
        ("ru", ["Этап 1 (PR head) утвердил версию 1.", "Версия 1 опубликована: VK, Telegram."]),
    ],
)
def test_the_timeline_says_it_in_both_languages(language, words, api, bob, erin, frank, routed, incident):
    from django.utils import translation

    from incidents import messages

    sid = draft(api(bob), incident)["id"]
    api(bob).post(url(incident, sid, "submit"))
    api(erin).post(url(incident, sid, "approve"))
    api(frank).post(url(incident, sid, "approve"))
    links = {"vk": "https://vk.com/x", "telegram": "https://t.me/x"}
    api(bob).post(url(incident, sid, "publish"), {"links": links}, format="json")
    events = TimelineEvent.all_brands.filter(incident=incident, kind__startswith="statement_").order_by(
        "at", "id"
    )
    with translation.override(language):
        lines = [messages.timeline_line(event, {}) for event in events]
    said = [line.text for line in lines]
    for sentence in words:
        assert sentence in said, (sentence, said)
    assert lines[-1].links == [("VK", "https://vk.com/x"), ("Telegram", "https://t.me/x")]


def test_a_decision_may_name_the_version_it_read_and_an_edit_since_is_a_409(api, bob, erin, routed, incident):
    sid = draft(api(bob), incident)["id"]
    assert api(bob).post(url(incident, sid, "submit")).status_code == 200
    edit = api(bob).put(url(incident, sid), {"channels": ["vk"], "body": "Second words"}, format="json")
    assert edit.status_code == 200 and edit.data["version"] == 2
    for action, body in (("approve", {"version": 1}), ("reject", {"comment": "no", "version": 1})):
        stale = api(erin).post(url(incident, sid, action), body, format="json")
        assert stale.status_code == 409, stale.content
        assert (stale.data["code"], stale.data["version"]) == ("stale_version", 2)
    for bad in (0, -1, "two", 2**31, None):
        refused = api(erin).post(url(incident, sid, "approve"), {"version": bad}, format="json")
        assert refused.status_code == 400 and "version" in refused.data, (bad, refused.content)
    assert not StatementDecision.all_brands.filter(statement_id=sid).exclude(kind="escalated").exists()
    approved = api(erin).post(url(incident, sid, "approve"), {"version": 2}, format="json")
    assert approved.status_code == 200 and approved.data["current_hop"] == 2
