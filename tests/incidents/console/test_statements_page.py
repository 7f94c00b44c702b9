"""
The statement editor on the incident page: a draft started from a template, its preview, the
route with who holds it and a countdown, approve and reject for the current hop's people only,
versions with a diff rendered escaped, and publishing with links.
"""

import re

import pytest

from crisis.tenancy import Principal
from incidents import statements
from incidents.models import Statement
from playbooks.models import ResponseTemplate
from tests.conftest import statement_written

HOSTILE = '<script>alert("x")</script> <img src=x onerror=alert(1)>'


@pytest.fixture
def route(acme, erin):
    return statements.statement_route_set(
        brand=acme, hops=[{"name": "PR head", "users": ["erin"], "within_seconds": 900}]
    )


def card(page) -> str:
    return re.search(r'<section class="card statements".*?</section>', page.content.decode(), re.S).group(0)


def test_a_draft_starts_from_a_template_and_is_previewed_then_saved(web, bob, acme, route, file_incident):
    incident = file_incident(channel="vk")
    template = ResponseTemplate.objects.create(
        brand=acme, name="Apology", category="other", language="en", body="Dear {brand} customers: {plan}"
    )
    client = web(bob)
    started = client.get(f"/incidents/{incident.pk}/", {"statement_template": template.pk})
    assert started.status_code == 200
    assert "Dear Acme Coffee customers: {plan}" in card(started)  # the incident filled what it could
    form = {"new-channels": ["vk"], "new-language": "en", "new-body": "Dear customers: " + HOSTILE}
    preview = client.post(f"/incidents/{incident.pk}/statements/new/", {**form, "preview": "1"})
    assert preview.status_code == 200 and 'id="statement-preview"' in card(preview)
    assert "<script>" not in card(preview) and "&lt;script&gt;" in card(preview)
    assert not Statement.all_brands.exists()
    saved = client.post(f"/incidents/{incident.pk}/statements/new/", form, follow=True)
    assert saved.status_code == 200
    statement = Statement.all_brands.get()
    assert statement.body.endswith(HOSTILE) and statement.author == bob
    assert "<script>" not in card(saved) and "<img src=x" not in card(saved)
    empty = client.post(
        f"/incidents/{incident.pk}/statements/new/", {"new-channels": ["vk"], "new-language": "en"}
    )
    assert empty.status_code == 400


def test_the_route_shows_who_holds_it_and_only_they_may_decide(web, bob, alice, erin, route, file_incident):
    incident = file_incident(channel="vk")
    statement = statements.statement_create(
        incident_id=incident.pk,
        principal=Principal.for_user(bob),
        channels=["vk"],
        language="en",
        body="Sorry.",
    )
    submit = web(bob).post(f"/incidents/{incident.pk}/statements/{statement.pk}/submit/", follow=True)
    assert submit.status_code == 200
    held = card(submit)
    assert "with erin" in held and 'class="countdown"' in held
    assert 'data-action="statement-approve"' not in held  # bob is not of the hop
    assert 'data-action="statement-approve"' not in card(web(alice).get(f"/incidents/{incident.pk}/"))
    assert web(alice).post(f"/incidents/{incident.pk}/statements/{statement.pk}/approve/").status_code == 403
    mine = card(web(erin).get(f"/incidents/{incident.pk}/"))
    assert 'data-action="statement-approve"' in mine and 'data-action="statement-reject"' in mine
    # A rejection needs a comment: refused on the form, nothing decided.
    refused = web(erin).post(
        f"/incidents/{incident.pk}/statements/{statement.pk}/reject/", {f"d{statement.pk}-comment": ""}
    )
    assert refused.status_code == 400
    assert Statement.all_brands.get(pk=statement.pk).state == "in_approval"
    approved = web(erin).post(f"/incidents/{incident.pk}/statements/{statement.pk}/approve/", follow=True)
    assert "approved by erin" in card(approved)
    assert 'data-action="statement-publish"' in card(web(bob).get(f"/incidents/{incident.pk}/"))
    published = web(bob).post(
        f"/incidents/{incident.pk}/statements/{statement.pk}/publish/",
        {f"p{statement.pk}-link_vk": "https://vk.com/wall-1_1"},
        follow=True,
    )
    assert Statement.all_brands.get(pk=statement.pk).state == "published"
    assert 'href="https://vk.com/wall-1_1"' in card(published)


def test_versions_and_their_diff_are_escaped(web, bob, route, file_incident):
    incident = file_incident(channel="vk")
    statement = statements.statement_create(
        incident_id=incident.pk,
        principal=Principal.for_user(bob),
        channels=["vk"],
        language="en",
        body="Sorry.",
    )
    client = web(bob)
    for body in ("Sorry.\n" + HOSTILE, "We are sorry.\n" + HOSTILE + "\nThe plan."):
        edit = client.post(
            f"/incidents/{incident.pk}/statements/{statement.pk}/edit/",
            {
                f"s{statement.pk}-channels": ["vk"],
                f"s{statement.pk}-language": "en",
                f"s{statement.pk}-body": body,
            },
        )
        assert edit.status_code == 302
    page = client.get(f"/incidents/{incident.pk}/", {"diff": statement.pk, "from": 1, "to": 3})
    shown = card(page)
    assert "3 versions" in shown
    assert '<span class="removed">-Sorry.</span>' in shown
    assert '<span class="added">+The plan.</span>' in shown
    assert "&lt;script&gt;" in shown and "<script>" not in shown and "<img" not in shown
    # Nonsense in the query shows the last edit's diff rather than failing.
    assert (
        client.get(f"/incidents/{incident.pk}/", {"diff": statement.pk, "from": "x", "to": "99"}).status_code
        == 200
    )


def test_another_brand_cannot_reach_the_editor(web, mallory, bob, route, file_incident):
    incident = file_incident()
    statement = statements.statement_create(
        incident_id=incident.pk, principal=Principal.for_user(bob), channels=["vk"], language="en", body="x"
    )
    client = web(mallory)
    assert client.post(f"/incidents/{incident.pk}/statements/new/", {"new-body": "x"}).status_code == 404
    for action in ("submit", "approve", "publish", "edit"):
        assert client.post(f"/incidents/{incident.pk}/statements/{statement.pk}/{action}/").status_code == 404


def test_a_decision_on_a_version_edited_since_is_refused_and_the_page_offers_the_new_one(
    web, bob, erin, route, file_incident
):
    incident = file_incident(channel="vk")
    statement = statement_written(incident, bob, submit=True)
    page = card(web(erin).get(f"/incidents/{incident.pk}/"))
    assert f'name="d{statement.pk}-version" value="1"' in page  # the version erin reads
    # Bob edits while erin reads version 1: her approval of it decides nothing.
    statements.statement_edit(
        incident_id=incident.pk,
        statement_id=statement.pk,
        principal=Principal.for_user(bob),
        channels=["vk"],
        body="Sorry, and here is the plan.",
    )
    action = f"/incidents/{incident.pk}/statements/{statement.pk}/approve/"
    stale = web(erin).post(action, {f"d{statement.pk}-version": "1", f"d{statement.pk}-comment": "ok"})
    assert stale.status_code == 409
    assert "version 2 is current" in card(stale) and "here is the plan" in card(stale)
    assert Statement.all_brands.get(pk=statement.pk).state == "in_approval"
    # The page now carries version 2, and her comment is kept: pressing again decides what she sees.
    again = card(stale)
    assert f'name="d{statement.pk}-version" value="2"' in again and "ok</textarea>" in again
    approved = web(erin).post(action, {f"d{statement.pk}-version": "2", f"d{statement.pk}-comment": "ok"})
    assert approved.status_code == 302
    assert Statement.all_brands.get(pk=statement.pk).state == "approved"
