"""
The incident page through Django's client: a refused resolve keeps its text and points
at the open steps, a message after every action, the labelled review with its figures,
and the replies to start from (placeholder fields, the live preview, languages).
"""

import re
from datetime import timedelta
from html import unescape

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from crisis.tenancy import Principal
from incidents import services
from playbooks.models import ResponseTemplate


@pytest.fixture
def web():
    def _login(user):
        client = Client()
        client.force_login(user)
        return client

    return _login


def text_of(response) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- Item 5: a refused resolve --------------------------------------------------------------


def test_a_refused_resolve_keeps_the_text_and_points_at_the_open_required_steps(
    web, alice, bob, file_incident, incident_in
):
    incident = incident_in(file_incident(), "investigated", manager=alice, responder=bob)
    required = list(incident.checklist.filter(required=True).order_by("position", "id"))
    optional = list(incident.checklist.filter(required=False))
    assert len(required) >= 2 and optional, "the shipped playbook has required and optional steps"
    done_one = required[0]
    services.incident_step_complete(
        incident_id=incident.pk, step_id=done_one.pk, principal=Principal.for_user(bob), note=""
    )
    typed = "Apologised under the post; the courier issue is fixed & refunds are on their way."

    response = web(bob).post(f"/incidents/{incident.pk}/resolve/", {"resolution": typed})

    assert response.status_code == 409
    page = response.content.decode()
    # The typed resolution is still in the form, escaped, not lost.
    form = re.search(r'<form[^>]*id="resolve-form".*?</form>', page, re.S).group(0)
    assert "Apologised under the post; the courier issue is fixed &amp; refunds are on their way." in form
    assert "Required playbook steps are still open." in form
    # Each open required step is named and highlighted; the done one and optional ones are not.
    still_open = required[1:]
    for step in still_open:
        assert f'href="#step-{step.pk}"' in form
        assert re.search(rf'<li id="step-{step.pk}" class="blocking"', page)
    assert f'href="#step-{done_one.pk}"' not in form
    assert not re.search(rf'<li id="step-{done_one.pk}" class="blocking"', page)
    for step in optional:
        assert not re.search(rf'<li id="step-{step.pk}" class="blocking"', page)
    incident.refresh_from_db()
    assert incident.state == "investigated" and incident.resolution == ""


def test_a_refused_resolve_speaks_russian(web, alice, bob, file_incident, incident_in):
    incident = incident_in(file_incident(), "investigated", manager=alice, responder=bob)
    response = web(bob).post(
        f"/incidents/{incident.pk}/resolve/", {"resolution": "Ответили всем"}, HTTP_ACCEPT_LANGUAGE="ru"
    )
    assert response.status_code == 409
    text = text_of(response)
    assert "Обязательные шаги плейбука ещё не выполнены." in text
    assert "Ответили всем" in response.content.decode()


def test_a_blank_resolution_is_a_field_error_not_a_conflict(web, alice, bob, file_incident, incident_in):
    incident = incident_in(file_incident(), "investigated", manager=alice, responder=bob)
    response = web(bob).post(f"/incidents/{incident.pk}/resolve/", {"resolution": "   "})
    assert response.status_code == 400
    assert "blocking-list" not in response.content.decode()


def test_a_refused_hand_over_says_why_next_to_the_field(web, alice, bob, carol, dave, file_incident):
    incident = file_incident()
    services.incident_claim(incident_id=incident.pk, principal=Principal.for_user(bob))
    response = web(bob).post(f"/incidents/{incident.pk}/reassign/", {"assignee": "carol"})  # a viewer
    assert response.status_code == 400
    form = re.search(r'<form[^>]*id="reassign-form".*?</form>', response.content.decode(), re.S).group(0)
    assert "Not a responder or manager of this brand." in form
    assert 'class="invalid"' in form
    # Everyone who may take it over is offered again.
    for name in ("alice", "bob", "dave"):
        assert f'<option value="{name}"' in form
    incident.refresh_from_db()
    assert incident.assignee == bob


# --- Feedback: a confirmation after each action ---------------------------------------------


def test_every_action_says_what_it_did(web, alice, bob, dave, file_incident):
    from tests.conftest import complete_required_steps

    incident = file_incident()
    responder, manager = web(bob), web(alice)
    url = f"/incidents/{incident.pk}"

    def said(client, path, data=None):
        response = client.post(f"{url}/{path}", data or {}, follow=True)
        assert response.status_code == 200, path
        return messages_of(response)

    assert said(responder, "claim/") == ["You have claimed this incident."]
    assert said(responder, "investigate/") == ["Investigation started."]
    step = incident.checklist.order_by("position", "id").first()
    done = responder.post(f"{url}/steps/{step.pk}/complete/", {"note": "screenshots saved"}, follow=True)
    assert messages_of(done) == [f"Step done: {step.title}."]
    assert done.redirect_chain[-1][0].endswith(f"#step-{step.pk}")  # back where the person was
    assert said(responder, "comment/", {"body": "Talking to the courier service."}) == ["Comment added."]
    assert said(responder, "reassign/", {"assignee": "dave"}) == ["Handed over to dave."]
    complete_required_steps(incident, bob)
    assert said(web(dave), "resolve/", {"resolution": "Refunds issued."}) == ["Incident resolved."]
    assert said(responder, "reopen/", {"reason": "New complaints."}) == ["Incident reopened."]
    assert said(web(dave), "resolve/", {"resolution": "Refunds issued again."}) == ["Incident resolved."]
    review = {"summary": "s", "root_cause": "r", "lessons": "l", "follow_ups": ""}
    assert said(manager, "review/", review) == ["Review saved; the incident is closed."]
    incident.refresh_from_db()
    assert incident.state == "reviewed"


def test_a_refused_action_without_a_form_says_why_in_words(web, alice, bob, dave, file_incident):
    incident = file_incident()
    services.incident_claim(incident_id=incident.pk, principal=Principal.for_user(dave))
    response = web(bob).post(f"/incidents/{incident.pk}/claim/", follow=True)
    assert messages_of(response) == ["Someone else has already claimed this incident."]


def test_messages_are_translated(web, bob, file_incident):
    incident = file_incident()
    response = web(bob).post(f"/incidents/{incident.pk}/claim/", follow=True, HTTP_ACCEPT_LANGUAGE="ru")
    assert messages_of(response) == ["Вы взяли инцидент в работу."]


# --- Item 6: the stored review, labelled, with the response figures -------------------------


def test_the_review_is_labelled_and_shows_the_response_figures(web, alice, bob, file_incident):
    from tests.conftest import complete_required_steps

    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        incident = file_incident(severity="critical", detected_at=start)  # 10 min to acknowledge
        clock.move_to(start + timedelta(minutes=12, seconds=5))  # late: the target is missed
        services.incident_claim(incident_id=incident.pk, principal=Principal.for_user(bob))
        services.incident_investigate(incident_id=incident.pk, principal=Principal.for_user(bob))
        complete_required_steps(incident, bob)
        clock.move_to(start + timedelta(hours=2, minutes=5))
        services.incident_resolve(
            incident_id=incident.pk, principal=Principal.for_user(bob), resolution="Refunds issued."
        )
        services.incident_review(
            incident_id=incident.pk,
            principal=Principal.for_user(alice),
            summary="Couriers were late all weekend.",
            root_cause="A new courier partner without a deadline.",
            lessons="Check partners' deadlines before a promo.",
            follow_ups=[{"title": "Brief the couriers"}],
        )
    response = web(bob).get(f"/incidents/{incident.pk}/")
    review = re.search(
        r'<section class="card review" id="review">.*?</section>', response.content.decode(), re.S
    ).group(0)
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", review)).split())
    assert "Summary Couriers were late all weekend." in text
    assert "Root cause A new courier partner without a deadline." in text
    assert "Lessons Check partners' deadlines before a promo." in text
    assert "Follow-ups Brief the couriers" in text
    assert "Time to acknowledge 12 min 5 s target missed" in text
    assert "Time to resolve 2 h 5 min within target" in text
    assert "Escalation level reached" in text
    assert "77.0" not in text and "7205" not in text  # no raw seconds

    russian = text_of(web(bob).get(f"/incidents/{incident.pk}/", HTTP_ACCEPT_LANGUAGE="ru"))
    for label in ("Итог", "Первопричина", "Выводы", "Время до ответа"):
        assert label in russian


def test_the_review_names_the_escalation_level_reached(web, alice, bob, file_incident, incident_in):
    incident = file_incident()
    type(incident).all_brands.filter(pk=incident.pk).update(escalation_level=2)
    incident = incident_in(incident, "reviewed", manager=alice, responder=bob)
    assert incident.review_notes["figures"]["escalation_level"] == 2
    text = text_of(web(bob).get(f"/incidents/{incident.pk}/"))
    assert "Escalation level reached level 2" in text


# --- Replies to start from ------------------------------------------------------------------


def test_replies_offer_a_field_per_placeholder_prefilled_from_the_incident(web, acme, bob, file_incident):
    incident = file_incident(category="negative_wave")
    services.incident_claim(incident_id=incident.pk, principal=Principal.for_user(bob))
    page = web(bob).get(f"/incidents/{incident.pk}/").content.decode()
    template = ResponseTemplate.objects.visible_to(Principal.for_user(bob)).get(
        category="negative_wave", language="en", brand__isnull=True
    )
    prefix = f"reply-{template.pk}"
    for name in ("customer_name", "responder", "brand", "issue", "reply_by"):
        assert f'name="{prefix}-{name}"' in page
    assert re.search(rf'name="{prefix}-brand" value="Acme Coffee"', page)
    assert re.search(rf'name="{prefix}-responder" value="bob"', page)
    assert "Customer&#x27;s name" in page or "Customer's name" in page
    # The draft: what the incident knows is filled, the rest waits as {name}.
    assert "I&#x27;m bob from Acme Coffee" in page and "{customer_name}" in page


def test_the_preview_fills_the_draft_from_the_fields(web, bob, file_incident):
    incident = file_incident(category="negative_wave")
    template = ResponseTemplate.all_brands.get(category="negative_wave", language="en", brand__isnull=True)
    prefix = f"reply-{template.pk}"
    url = f"/incidents/{incident.pk}/replies/{template.pk}/preview/"
    response = web(bob).post(url, {f"{prefix}-customer_name": "Anna", f"{prefix}-issue": "a cold latte"})
    assert response.status_code == 200
    text = response.json()["text"]
    assert text.startswith("Hello, Anna! I'm {responder} from Acme Coffee.")  # nobody claimed it yet
    assert "about a cold latte" in text and "{reply_by}" in text
    # A field for a placeholder the template lacks is ignored, not an error.
    assert web(bob).post(url, {f"{prefix}-nonsense": "x"}).status_code == 200


def test_the_preview_is_only_for_what_i_may_see(web, bob, mallory, globex, file_incident):
    mine = file_incident(category="negative_wave")
    theirs = file_incident(brand=globex, by=mallory, category="negative_wave")
    template = ResponseTemplate.all_brands.get(category="negative_wave", language="en", brand__isnull=True)
    other_category = ResponseTemplate.all_brands.get(category="fake_news", language="en", brand__isnull=True)
    globex_own = ResponseTemplate.objects.create(
        brand=globex, name="Globex only", category="negative_wave", language="en", body="Hi {x}"
    )
    client = web(bob)
    assert client.post(f"/incidents/{theirs.pk}/replies/{template.pk}/preview/").status_code == 404
    assert client.post(f"/incidents/{mine.pk}/replies/{globex_own.pk}/preview/").status_code == 404
    assert client.post(f"/incidents/{mine.pk}/replies/{other_category.pk}/preview/").status_code == 404
    assert client.get(f"/incidents/{mine.pk}/replies/{template.pk}/preview/").status_code == 405
    too_long = {f"reply-{template.pk}-issue": "x" * 6000}
    refused = client.post(f"/incidents/{mine.pk}/replies/{template.pk}/preview/", too_long)
    assert refused.status_code == 400 and refused.json()["errors"]


def test_replies_in_the_brands_language_first_others_folded(web, acme, bob, file_incident):
    acme.language = "ru"
    acme.save(update_fields=["language"])
    incident = file_incident(category="negative_wave")
    own = ResponseTemplate.objects.create(
        brand=acme, name="Наш ответ", category="negative_wave", language="ru", body="Привет, {customer_name}!"
    )
    page = web(bob).get(f"/incidents/{incident.pk}/").content.decode()
    folded_at = page.index('class="other-languages"')
    shared_ru = ResponseTemplate.all_brands.get(category="negative_wave", language="ru", brand__isnull=True)
    shared_en = ResponseTemplate.all_brands.get(category="negative_wave", language="en", brand__isnull=True)
    # The brand's own first, then the shared one in its language; English only folded away.
    assert page.index(f'data-reply="{incident.pk}:{own.pk}"') < page.index(
        f'data-reply="{incident.pk}:{shared_ru.pk}"'
    )
    assert page.index(f'data-reply="{incident.pk}:{shared_ru.pk}"') < folded_at
    assert page.index(f'data-reply="{incident.pk}:{shared_en.pk}"') > folded_at


def test_the_incident_page_runs_a_fixed_number_of_queries(
    web, alice, bob, file_incident, incident_in, django_assert_max_num_queries
):
    incident = incident_in(file_incident(), "reviewed", manager=alice, responder=bob)
    client = web(bob)
    client.get(f"/incidents/{incident.pk}/")  # warm: sessions, brand setup cache
    with django_assert_max_num_queries(30):
        assert client.get(f"/incidents/{incident.pk}/").status_code == 200


def test_every_page_has_our_own_favicon(web, bob, file_incident):
    from django.contrib.staticfiles import finders

    page = web(bob).get(f"/incidents/{file_incident().pk}/").content.decode()
    href = re.search(r'<link rel="icon" href="([^"]+)"', page).group(1)
    assert href.startswith("/static/") and href.endswith("favicon.svg")
    assert finders.find("console/favicon.svg")
