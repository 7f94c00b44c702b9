"""
"My notifications" (`/me/`): language and time zone, channels added, tested through the
outbox and removed, what the desk sends me; and the console's times in my zone.
"""

import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client

from crisis.models import Membership, Profile
from incidents import outbox
from incidents.models import ContactChannel, Notification
from tests.conftest import make_user
from tests.incidents.test_outbox import Receiver

NOW = datetime(2026, 11, 21, 9, 5, 30, tzinfo=UTC)


@pytest.fixture
def web():
    def _login(user, **cookies):
        client = Client()
        client.force_login(user)
        for name, value in cookies.items():
            client.cookies[name] = value
        return client

    return _login


@pytest.fixture
def receiver(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 2
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def text_of(response) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- Language and time zone -------------------------------------------------------------


def test_i_choose_my_zone_and_language_and_go_back(web, bob):
    client = web(bob)
    page = client.get("/me/")
    assert page.status_code == 200
    assert 'id="settings-form"' in page.content.decode()
    saved = client.post("/me/settings/", {"language": "ru", "time_zone": "Europe/Moscow"}, follow=True)
    assert saved.status_code == 200
    assert messages_of(saved) == ["Ваш язык и часовой пояс сохранены."]
    profile = Profile.objects.get(user=bob)
    assert (profile.language, profile.time_zone) == ("ru", "Europe/Moscow")
    # The header's switch remembers a pick in a cookie that wins: the pick made here is this browser's too.
    assert client.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "ru"
    assert "Мои уведомления" in saved.content.decode()
    client.post("/me/settings/", {"language": "", "time_zone": ""})
    profile.refresh_from_db()
    assert (profile.language, profile.time_zone) == ("", "")
    assert client.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == ""  # deleted


@pytest.mark.parametrize(
    "posted,field",
    [
        ({"language": "", "time_zone": "Mars/Base"}, "time_zone"),
        ({"language": "", "time_zone": "localtime"}, "time_zone"),
        ({"language": "de", "time_zone": ""}, "language"),
        ({"language": "", "time_zone": "Europe/Moscow\x00"}, "time_zone"),
        ({"language": "", "time_zone": "x" * 500}, "time_zone"),
    ],
)
def test_a_bad_setting_is_a_form_error_and_saves_nothing(web, bob, posted, field):
    response = web(bob).post("/me/settings/", posted)
    assert response.status_code == 400
    assert response.context["settings_form"].errors[field]
    assert 'class="field invalid"' in response.content.decode()
    assert not Profile.objects.filter(user=bob).exists()


def test_my_language_applies_unless_this_browser_picked_one(web, bob):
    Profile.objects.create(user=bob, language="ru")
    assert "Мои уведомления" in web(bob).get("/me/").content.decode()
    picked = web(bob, **{django_settings.LANGUAGE_COOKIE_NAME: "en"}).get("/me/")
    assert "My notifications" in picked.content.decode()


def test_an_alias_set_through_the_api_is_kept_by_the_page(web, api, bob):
    api(bob).patch("/api/v1/me/", {"time_zone": "US/Eastern"}, format="json")
    page = web(bob).get("/me/").content.decode()
    assert '<option value="US/Eastern" selected>' in page
    assert web(bob).post("/me/settings/", {"language": "", "time_zone": "US/Eastern"}).status_code == 302


# --- Times in my zone --------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_times_are_shown_in_my_zone_else_my_brands(web, bob, acme, file_incident):
    incident = file_incident(detected_at=NOW)
    page = web(bob).get(f"/incidents/{incident.pk}/").content.decode()
    # Nobody chose a zone: the brand's, UTC.
    hover = '<time datetime="2026-11-21T09:05:30Z" title="2026-11-21 09:05:30 UTC">'
    assert hover + "2026-11-21 09:05 UTC</time>" in page
    acme.time_zone = "Asia/Tokyo"
    acme.save()
    page = web(bob).get(f"/incidents/{incident.pk}/").content.decode()
    assert 'title="2026-11-21 09:05:30 UTC">2026-11-21 18:05 JST</time>' in page
    Profile.objects.create(user=bob, time_zone="Europe/Moscow")
    page = web(bob).get(f"/incidents/{incident.pk}/").content.decode()
    assert 'title="2026-11-21 09:05:30 UTC">2026-11-21 12:05 MSK</time>' in page
    # The API is not the console: it answers in UTC whatever I chose.
    from tests.conftest import client_for

    assert client_for(bob).get(f"/api/v1/incidents/{incident.pk}/").data["detected_at"].endswith("Z")


def test_across_brands_the_zone_my_brands_share_else_utc(web, acme, globex, bob):
    from crisis.selectors import viewer_settings

    assert viewer_settings(bob).zone_name() == "UTC"
    acme.time_zone = "Europe/Moscow"
    acme.save()
    assert viewer_settings(bob).zone_name() == "Europe/Moscow"
    Membership.objects.create(brand=globex, user=bob, role="viewer")
    globex.time_zone = "America/New_York"
    globex.save()
    assert viewer_settings(bob).zone_name() == "UTC"
    assert viewer_settings(bob).zone_name(globex) == "America/New_York"
    Profile.objects.create(user=bob, time_zone="Asia/Almaty")
    assert viewer_settings(bob).zone_name(globex) == "Asia/Almaty"


# --- Channels: add, test, remove ---------------------------------------------------------


def test_i_add_test_and_remove_an_email_channel(web, bob):
    client = web(bob)
    added = client.post("/me/channels/", {"kind": "email", "target": "bob@acme.test"}, follow=True)
    assert added.status_code == 200
    channel = ContactChannel.objects.get(user=bob)
    assert (channel.kind, channel.target) == ("email", "bob@acme.test")
    assert f'data-channel="{channel.pk}"' in added.content.decode()

    tested = client.post("/me/channels/test/", {"channel": channel.pk}, follow=True)
    assert messages_of(tested) == ["Test message on its way to bob@acme.test."]
    notification = Notification.all_brands.get(reason=outbox.TEST_REASON)
    assert (notification.recipient, notification.target) == (bob, "bob@acme.test")
    assert notification.status == "pending"
    page = text_of(tested)
    assert "on its way…" in page
    assert 'hx-get="/me/tests/"' in tested.content.decode()  # the outcome refreshes itself

    # The worker's part: the delivery task runs the outbox's adapter.
    assert outbox.deliver(notification.pk) == "sent"
    assert [m.to for m in mail.outbox] == [["bob@acme.test"]]
    assert "Test message" in mail.outbox[0].subject and "bob" in mail.outbox[0].body
    fragment = client.get("/me/tests/", HTTP_HX_REQUEST="true")
    assert "delivered" in text_of(fragment) and "hx-get" not in fragment.content.decode()

    removed = client.post("/me/channels/remove/", {"channel": channel.pk}, follow=True)
    assert messages_of(removed) == ["Channel removed."]
    assert not ContactChannel.objects.filter(user=bob).exists()


def test_a_webhook_test_goes_through_the_real_delivery(web, bob, receiver):
    client = web(bob)
    client.post("/me/channels/", {"kind": "webhook", "target": receiver.url})
    channel = ContactChannel.objects.get(user=bob)
    client.post("/me/channels/test/", {"channel": channel.pk})
    notification = Notification.all_brands.get(reason=outbox.TEST_REASON)
    assert outbox.deliver(notification.pk) == "sent"
    [got] = receiver.received
    body = json.loads(got["body"])
    assert (body["event"], body["user"], body["brand"]) == ("channel_test", "bob", "acme")
    timestamp = got["headers"]["X-Crisis-Timestamp"]
    expected = hmac.new(channel.secret.encode(), timestamp.encode() + b"." + got["body"], hashlib.sha256)
    assert got["headers"]["X-Crisis-Signature"] == "sha256=" + expected.hexdigest()
    assert "delivered" in text_of(client.get("/me/"))


def test_a_failed_test_says_so(web, bob, receiver):
    client = web(bob)
    client.post("/me/channels/", {"kind": "webhook", "target": receiver.url})
    channel = ContactChannel.objects.get(user=bob)
    client.post("/me/channels/test/", {"channel": channel.pk})
    notification = Notification.all_brands.get(reason=outbox.TEST_REASON)
    receiver.script = [500]
    assert outbox.deliver(notification.pk) == "retry"
    page = text_of(client.get("/me/"))
    assert "not delivered yet, trying again (attempt 1 failed)" in page
    receiver.script = [404]
    Notification.all_brands.filter(pk=notification.pk).update(leased_until=None)
    past_its_backoff = datetime.now(UTC) + timedelta(hours=1)
    assert outbox.deliver(notification.pk, now=past_its_backoff) == "failed"
    assert "not delivered" in text_of(client.get("/me/"))


@pytest.mark.parametrize(
    "posted,field",
    [
        ({"kind": "email", "target": "not an address"}, "target"),
        ({"kind": "webhook", "target": "not a url"}, "target"),
        ({"kind": "webhook", "target": "http://127.0.0.1:9/hook"}, "target"),  # the outbound rules
        ({"kind": "apprise", "target": "ntfy://example.com/topic"}, "target"),
        ({"kind": "pager", "target": "555"}, "kind"),
        ({"kind": "email", "target": ""}, "target"),
        ({"kind": "email", "target": "a@b.test\x00"}, "target"),
    ],
)
def test_a_bad_channel_is_a_form_error_and_adds_nothing(web, bob, posted, field):
    response = web(bob).post("/me/channels/", posted)
    assert response.status_code == 400
    errors = response.context["channel_form"].errors
    assert errors[field] and all("ErrorDetail" not in e for e in errors[field])
    assert not ContactChannel.objects.filter(user=bob).exists()


@pytest.mark.parametrize("action", ["test", "remove"])
@pytest.mark.parametrize("posted", [{"channel": "abc"}, {"channel": "99999999999999999999999"}, {}, "theirs"])
def test_only_my_own_channels_and_never_a_500(web, bob, alice, action, posted):
    theirs = ContactChannel.objects.create(user=alice, kind="email", target="alice@acme.test")
    if posted == "theirs":
        posted = {"channel": theirs.pk}
    response = web(bob).post(f"/me/channels/{action}/", posted, follow=True)
    assert response.status_code == 200
    assert messages_of(response) == ["No such channel of yours."]
    assert ContactChannel.objects.filter(pk=theirs.pk).exists()
    assert not Notification.all_brands.exists()


def test_tests_are_limited_per_person(web, bob):
    channel = ContactChannel.objects.create(user=bob, kind="email", target="bob@acme.test")
    client = web(bob)
    for _ in range(outbox.TESTS_PER_WINDOW):
        client.post("/me/channels/test/", {"channel": channel.pk})
    refused = client.post("/me/channels/test/", {"channel": channel.pk}, follow=True)
    assert messages_of(refused)[-1] == "Too many test messages: try again in a few minutes."
    assert Notification.all_brands.filter(reason=outbox.TEST_REASON).count() == outbox.TESTS_PER_WINDOW


def test_someone_in_no_brand_is_told_not_failed(web, db):
    loner = make_user("loner", email="loner@example.test")
    channel = ContactChannel.objects.create(user=loner, kind="email", target="loner@example.test")
    client = web(loner)
    page = client.get("/me/")
    assert page.status_code == 200 and "You belong to no brand yet" in text_of(page)
    tested = client.post("/me/channels/test/", {"channel": channel.pk}, follow=True)
    assert messages_of(tested) == ["You belong to no brand yet: the desk has nothing to send you."]


def test_nobody_can_reach_me_is_said_loudly(web, bob):
    page = web(bob).get("/me/")
    assert "the desk cannot reach you" in text_of(page)
    bob.email = "bob@acme.test"
    bob.save()
    assert "the desk e-mails your account's address, bob@acme.test" in text_of(web(bob).get("/me/"))


# --- What the desk sends me --------------------------------------------------------------


def test_what_the_desk_sends_me_follows_my_role_and_the_chain(web, api, alice, bob, dave, acme):
    dave.memberships.update(is_executive=True)
    chain = {
        "levels": [
            {"after_seconds": 0, "roles": ["manager"], "users": []},
            {"after_seconds": 600, "roles": ["executive"], "users": []},
            {"after_seconds": 3900, "roles": [], "users": ["bob"]},
        ],
        "repeat": 0,
    }
    assert api(alice).put("/api/v1/brands/acme/escalation/", chain, format="json").status_code == 200
    manager = text_of(web(alice).get("/me/"))
    assert (
        "Escalation level 1: as soon as an unclaimed incident's acknowledgement deadline passes (as manager)"
    ) in manager
    assert "Escalation level 2" not in manager and "An incident is not resolved by its deadline" in manager
    executive = text_of(web(dave).get("/me/"))
    assert (
        "Escalation level 2: 10 min after an unclaimed incident's acknowledgement deadline (as an executive)"
    ) in executive
    responder = text_of(web(bob).get("/me/"))
    assert "Escalation level 3: 1 h 5 min after" in responder and "(by name)" in responder
    assert "An unclaimed incident has used 80 % of its acknowledgement window" in responder
    # A sample of the text, from the same functions the outbox writes with.
    assert "[Acme Coffee] Escalation level 1: Angry comments under the promo post" in responder


def test_the_page_runs_a_fixed_number_of_queries(web, bob, globex, django_assert_max_num_queries):
    Membership.objects.create(brand=globex, user=bob, role="responder")
    for i in range(6):
        channel = ContactChannel.objects.create(user=bob, kind="email", target=f"bob{i}@acme.test")
    client = web(bob)
    for _ in range(3):
        client.post("/me/channels/test/", {"channel": channel.pk})
    # session, user, settings with roles, the navigation's managed brands, memberships,
    # channels, tests, chains: whatever the number of brands, channels and tests.
    with django_assert_max_num_queries(8):
        response = client.get("/me/")
    assert response.status_code == 200 and response.content.decode().count("data-channel=") == 6
