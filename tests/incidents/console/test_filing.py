"""
Filing an incident from the console: the API's input rules (IncidentInput) and its filing
service, so a body the API refuses is refused here on the same fields, and a duplicate is
counted the same way.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents.console.filing import dedup_key_for
from incidents.models import Incident

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def file(client, status=302, **typed):
    body = {"brand": "acme", "title": "Angry thread on VK", **typed}
    response = client.post("/incidents/new/", body)
    assert response.status_code == status, response.content.decode()[:2000]
    return response


def all_incidents():
    return Incident.all_brands.order_by("id")


def test_the_form_offers_only_brands_where_i_may_file(web, acme, globex, bob, mallory, carol):
    from crisis.models import Membership, Role

    Membership.objects.create(brand=globex, user=bob, role=Role.VIEWER)
    page = web(bob).get("/incidents/new/").content.decode()
    assert '<option value="acme"' in page and '<option value="globex"' not in page
    for field in (
        "brand",
        "title",
        "category",
        "severity",
        "channel",
        "source_url",
        "description",
        "detected_at",
    ):
        assert f'name="{field}"' in page
    assert 'type="datetime-local"' in page
    # With one brand it is chosen; with several, one must be (no silent first choice).
    only_acme = r'<select name="brand"[^>]*>\s*<option value="acme">Acme Coffee</option>\s*</select>'
    assert re.search(only_acme, page)
    Membership.all_brands.filter(brand=globex, user=bob).update(role=Role.RESPONDER)
    page = web(bob).get("/incidents/new/").content.decode()
    assert re.search(r'<select name="brand"[^>]*>\s*<option value="" selected>—</option>', page)
    assert file(web(bob), status=400, brand="").context["form"].errors == {
        "brand": ["This field is required."]
    }
    # A viewer everywhere is told why there is no form.
    assert 'name="title"' not in web(carol).get("/incidents/new/").content.decode()


def test_filing_opens_an_incident_as_the_api_would(web, bob, acme):
    client = web(bob)
    with time_machine.travel(NOW, tick=False):
        response = file(
            client,
            severity="high",
            category="fake_news",
            channel="vk",
            source_url="https://vk.com/wall-1_2",
            description="A fake screenshot of our CEO",
            detected_at="2026-11-21T11:40",  # the viewer's zone: UTC here
        )
    incident = all_incidents().get()
    assert response.url == f"/incidents/{incident.pk}/"
    assert (incident.brand, incident.title, incident.severity, incident.category, incident.channel) == (
        acme,
        "Angry thread on VK",
        "high",
        "fake_news",
        "vk",
    )
    assert incident.description == "A fake screenshot of our CEO"
    assert incident.detected_at == datetime(2026, 11, 21, 11, 40, tzinfo=UTC)
    assert incident.ack_due_at == incident.detected_at + timedelta(minutes=15)  # high: 15 min
    assert incident.reported_by_user == bob
    assert incident.checklist.exists()  # the fake-news playbook, as any filing gets
    assert incident.dedup_key == "https://vk.com/wall-1_2"
    page = client.get(response.url).content.decode()
    assert f"Incident #{incident.pk} filed." in page


def test_empty_fields_take_the_apis_defaults(web, bob):
    with time_machine.travel(NOW, tick=False):
        file(web(bob), severity="", category="", detected_at="", channel="")
    incident = all_incidents().get()
    assert (incident.severity, incident.category, incident.detected_at, incident.dedup_key) == (
        "medium",
        "other",
        NOW,
        "",
    )


def test_the_same_post_filed_again_is_counted_as_a_duplicate_and_linked(web, bob, dave):
    first = file(web(bob), source_url="https://vk.com/wall-1_2")
    original = all_incidents().get()
    other = web(dave)
    again = file(other, title="Same thread", source_url="https://vk.com/wall-1_2")
    assert again.url == first.url  # to the open incident it was counted on
    original.refresh_from_db()
    assert all_incidents().count() == 1 and original.duplicate_count == 1
    assert original.events.filter(kind="duplicate").count() == 1
    page = other.get(again.url).content.decode()
    notice = re.search(r"Counted as a duplicate of (.*?)</span>", page, re.S).group(1)
    assert f'<a href="/incidents/{original.pk}/">#{original.pk}</a>' in notice
    assert "Duplicates so far: 1." in notice


def test_a_duplicate_key_typed_by_hand_wins_over_the_url(web, bob):
    file(web(bob), source_url="https://vk.com/a", dedup_key="vk-wave-1")
    file(web(bob), source_url="https://vk.com/b", dedup_key="vk-wave-1")
    assert all_incidents().count() == 1


def test_a_resolved_incident_does_not_take_duplicates(web, bob, alice, incident_in):
    file(web(bob), source_url="https://vk.com/a")
    incident_in(all_incidents().get(), "resolved", manager=alice, responder=bob)
    file(web(bob), source_url="https://vk.com/a")
    assert all_incidents().count() == 2


def test_a_url_longer_than_a_key_is_keyed_by_its_hash():
    long_url = "https://example.com/" + "x" * 300
    key = dedup_key_for(long_url)
    assert len(key) <= 255 and key == dedup_key_for(long_url) != dedup_key_for(long_url + "y")


# A body the API refuses, and the fields it names: the console names the same ones.
BAD = [
    {"title": ""},
    {"title": "x" * 201},
    {"source_url": "not a url"},
    {"source_url": "https://example.com/" + "x" * 2000},
    {"severity": "apocalyptic"},
    {"category": "gossip"},
    {"channel": "myspace"},
    {"detected_at": "2099-01-01T00:00"},
    {"detected_at": "1999-12-31T23:59"},
    {"detected_at": "yesterday"},
    {"brand": "globex"},
    {"brand": "nosuchbrand"},
    {"brand": "ac\x00me"},
    {"dedup_key": "k" * 256},
    {"title": "x" * 201, "severity": "apocalyptic", "detected_at": "2099-01-01T00:00"},
]


@pytest.mark.parametrize("bad", BAD)
def test_what_the_api_refuses_the_console_refuses_on_the_same_fields(bad, web, api, bob, globex):
    body = {"brand": "acme", "title": "Angry thread", **bad}
    api_body = {name: value for name, value in body.items() if value != ""}
    refused = api(bob).post("/api/v1/incidents/", api_body, format="json")
    assert refused.status_code == 400
    response = file(web(bob), status=400, **body)
    errors = response.context["form"].errors
    assert set(errors) == set(refused.data)
    assert all_incidents().count() == 0
    # Shown as sentences next to their fields, what was typed kept.
    page = response.content.decode()
    assert "ErrorDetail" not in page and "['" not in page
    if body.get("title"):
        assert f'value="{body["title"]}"' in page


def test_a_viewer_cannot_file_even_by_posting(web, carol):
    response = file(web(carol), status=400)
    assert response.context["form"].errors == {"brand": ["Viewers cannot file incidents."]}
    assert "Viewers cannot file incidents." in response.content.decode()
    assert all_incidents().count() == 0


def test_errors_are_russian_sentences_for_a_russian_reader(web, bob):
    client = web(bob)
    client.cookies["django_language"] = "ru"
    response = file(client, status=400, title="", source_url="not a url")
    page = response.content.decode()
    assert "Обязательное поле." in page
    assert "Введите правильный URL." in page


def test_the_filing_page_needs_a_login(db, client):
    response = client.get("/incidents/new/")
    assert response.status_code == 302 and "/login/" in response.url
    assert client.post("/incidents/new/", {"brand": "acme", "title": "x"}).status_code == 302
    assert all_incidents().count() == 0
