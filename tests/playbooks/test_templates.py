"""Response templates: rendering for an incident, placeholders, access."""

import pytest

from playbooks import placeholders
from playbooks.models import ResponseTemplate


def shared(category, language):
    return ResponseTemplate.all_brands.get(brand=None, category=category, language=language)


def test_starter_set_covers_every_category_in_both_languages(db):
    assert ResponseTemplate.all_brands.filter(brand=None, language="en").count() == 8
    assert ResponseTemplate.all_brands.filter(brand=None, language="ru").count() == 8


def test_render_fills_from_the_incident_and_the_values(api, bob, file_incident, incident_in, alice):
    incident = incident_in(file_incident(title="Cold coffee"), "acknowledged", manager=alice, responder=bob)
    template = shared("negative_wave", "en")
    response = api(bob).post(
        f"/api/v1/response-templates/{template.pk}/render/",
        {
            "incident": incident.pk,
            "values": {"customer_name": "Olga", "issue": "a cold order", "reply_by": "15:00"},
        },
        format="json",
    )
    assert response.status_code == 200, response.data
    assert response.data["text"] == (
        "Hello, Olga! I'm bob from Acme Coffee. I've seen your message about a cold order and "
        "I'm already working on it. I'll come back to you personally by 15:00."
    )
    assert response.data["filled_from_incident"] == ["responder", "brand"]
    assert response.data["filled_from_values"] == ["customer_name", "issue", "reply_by"]


def test_russian_template_round_trips(api, bob, file_incident):
    incident = file_incident(channel="telegram")
    template = shared("fake_news", "ru")
    values = {"facts": "кофе варится из свежих зёрен", "sources": "сертификат №42"}
    response = api(bob).post(
        f"/api/v1/response-templates/{template.pk}/render/",
        {"incident": incident.pk, "values": values},
        format="json",
    )
    assert response.status_code == 200, response.data
    assert response.data["text"] == (
        "В Telegram распространяется публикация о Acme Coffee. Это не соответствует "
        "действительности: кофе варится из свежих зёрен. Источники: сертификат №42. "
        "Мы будем обновлять этот пост."
    )


def test_missing_and_unknown_placeholders_are_named(api, bob, file_incident):
    incident = file_incident()
    template = shared("negative_wave", "en")
    response = api(bob).post(
        f"/api/v1/response-templates/{template.pk}/render/",
        {
            "incident": incident.pk,
            "values": {"customer_name": "Olga", "mood": "angry"},
        },
        format="json",
    )
    assert response.status_code == 400
    assert set(response.data["values"]) == {"issue", "reply_by", "responder", "mood"}
    assert "Unknown" in str(response.data["values"]["mood"][0])


def test_render_for_an_invisible_incident_is_400(api, bob, globex, mallory, file_incident):
    theirs = file_incident(brand=globex, by=mallory)
    template = shared("other", "en")
    response = api(bob).post(
        f"/api/v1/response-templates/{template.pk}/render/", {"incident": theirs.pk}, format="json"
    )
    assert response.status_code == 400
    assert "incident" in response.data


@pytest.mark.parametrize(
    "body",
    [
        "Hi {x.__class__}",
        "Hi {0}",
        "Hi {name:>99999999}",
        "Hi {name!r}",
        "Hi {",
        "Hi }",
        "Hi {a[0]}",
    ],
)
def test_unsafe_or_malformed_templates_are_refused(body, api, alice):
    response = api(alice).post(
        "/api/v1/response-templates/",
        {"brand": "acme", "name": "t", "category": "other", "language": "en", "body": body},
        format="json",
    )
    assert response.status_code == 400, body
    assert "body" in response.data


def test_placeholder_parsing():
    assert placeholders.placeholders("{a} and {b}, {a} again, {{literal}}") == ["a", "b"]
    assert placeholders.fill("{a}-{{x}}-{b}", {"a": "1", "b": "{2}"}) == "1-{x}-{2}"


def test_templates_list_filters_and_access(api, alice, mallory, bob):
    created = api(alice).post(
        "/api/v1/response-templates/",
        {
            "brand": "acme",
            "name": "Our apology",
            "category": "other",
            "language": "ru",
            "body": "Простите нас, {customer_name}.",
        },
        format="json",
    )
    assert created.status_code == 201
    assert created.data["placeholders"] == ["customer_name"]
    ru = api(bob).get("/api/v1/response-templates/?language=ru&category=other").data["results"]
    assert {t["name"] for t in ru} == {"Первый ответ", "Our apology"}
    theirs = api(mallory).get("/api/v1/response-templates/?page_size=200").data["results"]
    assert created.data["id"] not in [t["id"] for t in theirs]
    assert (
        api(bob)
        .post(
            "/api/v1/response-templates/",
            {"brand": "acme", "name": "x", "category": "other", "language": "en", "body": "x"},
            format="json",
        )
        .status_code
        == 403
    )
