"""The settings page lists the adapters; "send a test event" goes through each adapter's own path."""

import pytest
from django.test import Client

from crisis.models import Mention
from incidents.models import Incident, TimelineEvent

TOOLS = ("youscan", "meltwater", "pagerduty", "alertmanager", "grafana")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_settings_page_shows_each_adapters_url_and_a_test_button(alice, acme, acme_key, settings):
    settings.SITE_URL = "https://desk.example"
    page = signed_in(alice).get(f"/brands/{acme.slug}/settings/").content.decode()

    assert 'id="integrations"' in page
    for url in (
        "https://desk.example/api/v1/integrations/youscan/{key}/",
        "https://desk.example/api/v1/integrations/meltwater/{key}/",
        "https://desk.example/api/v1/integrations/pagerduty/v2/enqueue",
        "https://desk.example/api/v1/integrations/alertmanager/",
        "https://desk.example/api/v1/integrations/grafana/",
    ):
        assert f'value="{url}"' in page
    for tool in TOOLS:
        assert f'action="/brands/acme/settings/integrations/{tool}/test/"' in page
    assert f"<code>{acme_key.prefix}…</code>" in page
    assert acme_key.plain not in page  # the key itself is never shown again


@pytest.mark.parametrize("tool", ["youscan", "meltwater"])
def test_a_test_mention_is_stored_through_the_adapter(alice, acme, tool):
    response = signed_in(alice).post(f"/brands/{acme.slug}/settings/integrations/{tool}/test/")

    assert response.status_code == 302
    mention = Mention.objects.for_brands([acme.pk]).get()
    assert (mention.platform, mention.sentiment) == ("other", "neutral")
    assert mention.external_id.startswith(f"{tool}:")
    assert "Test mention" in mention.text


@pytest.mark.parametrize("tool", ["pagerduty", "alertmanager", "grafana"])
def test_a_test_alert_files_an_incident_and_resolves_it_at_the_source(alice, acme, tool):
    response = signed_in(alice).post(f"/brands/{acme.slug}/settings/integrations/{tool}/test/", follow=True)

    assert response.status_code == 200
    incident = Incident.objects.for_brands([acme.pk]).get()
    assert (incident.state, incident.source_state, incident.severity) == ("detected", "resolved", "low")
    assert incident.next_escalation_at is None  # a test does not page anyone
    assert incident.reported_by_user_id == alice.pk
    assert "crisis-desk-test" in incident.dedup_key
    events = TimelineEvent.objects.for_brands([acme.pk]).filter(incident=incident)
    assert list(events.values_list("kind", flat=True)) == ["created", "source_resolved"]
    assert "test" in response.content.decode().lower()


def test_only_the_brands_managers_send_test_events(bob, mallory, acme):
    responder = signed_in(bob).post(f"/brands/{acme.slug}/settings/integrations/youscan/test/")
    stranger = signed_in(mallory).post(f"/brands/{acme.slug}/settings/integrations/youscan/test/")
    unknown_tool = signed_in(bob).post(f"/brands/{acme.slug}/settings/integrations/slack/test/")
    anonymous = Client().post(f"/brands/{acme.slug}/settings/integrations/youscan/test/")

    assert (responder.status_code, stranger.status_code, unknown_tool.status_code) == (403, 404, 404)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert not Mention.objects.for_brands([acme.pk]).exists()


def test_a_key_made_in_the_console_shows_its_routing_key_once(alice, acme):
    from crisis.models import BrandKey

    client = signed_in(alice)
    shown = client.post(f"/brands/{acme.slug}/settings/keys/", {"name": "PagerDuty"}, follow=True)
    again = client.get(f"/brands/{acme.slug}/settings/")

    routing_key = BrandKey.objects.for_brands([acme.pk]).get().routing_key()
    assert routing_key in shown.content.decode()
    assert routing_key not in again.content.decode()
