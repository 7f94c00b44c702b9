"""Notification delivery: signed webhooks, retries with backoff, refused addresses, Apprise.

The guarded transport itself, and every way around it, is tested in test_outbound.py.
"""

import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from incidents import channels, outbound, outbox
from incidents.models import Notification, TimelineEvent


class Receiver:
    """A local HTTP server that answers with the scripted statuses and records what it got."""

    def __init__(self):
        self.script: list = []  # status codes, or ("sleep", seconds) for a timeout
        self.received: list[dict] = []
        self.location = "http://example.com/"  # where a 3xx answer points
        self.cookie = ""  # a Set-Cookie header to answer with, if any
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                step = receiver.script.pop(0) if receiver.script else 200
                if isinstance(step, tuple):
                    time.sleep(step[1])
                    step = 200
                self.send_response(step)
                if step in (301, 302, 303, 307, 308):
                    self.send_header("Location", receiver.location)
                if receiver.cookie:
                    self.send_header("Set-Cookie", receiver.cookie)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_PUT = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


class Resolver(dict):
    """`dns["name"] = "address"` (a list of them, or a function answering one); `asked` lists every lookup."""

    def __init__(self):
        super().__init__()
        self.asked: list[str] = []


@pytest.fixture
def dns(monkeypatch):
    return install_resolver(monkeypatch)


def install_resolver(monkeypatch) -> Resolver:
    """
    A resolver that knows only the names a test gives it. Addresses written as numbers
    resolve as the system resolver reads them, without a lookup ("127.1", "2130706433",
    "0x7f000001" and "0177.0.0.1" are 127.0.0.1, as glibc says); any other name does not
    resolve. The outcome of a check never depends on this machine's network.
    """
    names = Resolver()
    system_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        names.asked.append(host)
        if host in names:
            found = names[host]() if callable(names[host]) else names[host]
            found = found if isinstance(found, list) else [found]
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    socket.IPPROTO_TCP,
                    "",
                    (address, port, 0, 0) if ":" in address else (address, port),
                )
                for address in found
            ]
        try:
            return system_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.fixture
def webhook_notification(file_incident, alice, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5

    def make(url, secret="s3cret"):
        incident = file_incident()
        return Notification.objects.create(
            incident=incident,
            recipient=alice,
            channel="webhook",
            target=url,
            secret=secret,
            reason="escalated",
            subject="s",
            body="b",
            payload={"event": "escalated", "incident": {"id": incident.pk}},
            idempotency_key=uuid.uuid4(),
        )

    return make


def test_webhook_is_signed_and_verifiable(receiver, webhook_notification, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    notification = webhook_notification(receiver.url)
    assert outbox.deliver(notification.pk) == "sent"
    got = receiver.received[0]
    timestamp = got["headers"]["X-Crisis-Timestamp"]
    expected = hmac.new(b"s3cret", timestamp.encode() + b"." + got["body"], hashlib.sha256).hexdigest()
    assert got["headers"]["X-Crisis-Signature"] == f"sha256={expected}"
    assert got["headers"]["Idempotency-Key"] == str(notification.idempotency_key)
    assert json.loads(got["body"])["event"] == "escalated"
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 1)


def test_webhook_retried_on_5xx_and_timeout_with_backoff(receiver, webhook_notification, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    settings.NOTIFICATION_BACKOFF_SECONDS = 5
    receiver.script = [503, ("sleep", 1.0)]
    notification = webhook_notification(receiver.url)

    assert outbox.deliver(notification.pk) == "retry"
    notification.refresh_from_db()
    first_retry = notification.next_attempt_at
    assert 4 <= (first_retry - notification.created_at).total_seconds() <= 7
    # Not due yet: the sweeper leaves it alone, and a stray task sends nothing before then.
    assert outbox.republish_due(now=first_retry - timedelta(seconds=1)) == 0
    assert outbox.deliver(notification.pk, now=first_retry - timedelta(seconds=1)) == "skipped"

    assert outbox.deliver(notification.pk, now=first_retry) == "retry"  # the receiver is too slow: timeout
    notification.refresh_from_db()
    assert notification.last_error == "webhook: ReadTimeout"
    assert outbox.deliver(notification.pk, now=notification.not_before) == "sent"
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 3)
    outcomes = [
        e["outcome"]
        for e in TimelineEvent.all_brands.filter(incident=notification.incident, kind="notified").values_list(
            "data", flat=True
        )
    ]
    assert outcomes == ["retry", "retry", "sent"]


def test_gives_up_after_max_attempts(receiver, webhook_notification, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    receiver.script = [500, 500, 500, 500]
    notification = webhook_notification(receiver.url)
    later = timezone.now() + timedelta(hours=1)  # past every backoff
    outcomes = [outbox.deliver(notification.pk, now=later) for _ in range(4)]
    assert outcomes == ["retry", "retry", "failed", "skipped"]
    assert len(receiver.received) == 3


@pytest.mark.parametrize("status", [301, 400, 404])
def test_redirects_and_client_errors_are_not_retried(status, receiver, webhook_notification, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    receiver.script = [status]
    notification = webhook_notification(receiver.url)
    assert outbox.deliver(notification.pk) == "failed"
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    "url,error",
    [
        ("https://127.0.0.1:{port}/hook", "webhook: refused, 127.0.0.1:{port} (127.0.0.1): 127.0.0.1 is not"),
        ("https://localhost:{port}/hook", "webhook: refused, localhost:{port} "),  # the hosts file's order
        ("https://[::1]:{port}/hook", "webhook: refused, ::1:{port} (::1): ::1 is not a public address"),
        ("https://10.0.0.1/hook", "webhook: refused, 10.0.0.1:443 (10.0.0.1): 10.0.0.1 is not a public"),
        ("http://169.254.169.254/latest/meta-data", "webhook: refused, 169.254.169.254:80 (169.254.169.254)"),
        ("http://127.0.0.1:{port}/hook", "webhook: refused, 127.0.0.1:{port} (127.0.0.1): 127.0.0.1 is not"),
    ],
)
def test_refused_addresses_are_never_contacted(url, error, receiver, webhook_notification):
    """Refused like a closed port: retried, "not delivered" on the timeline, the detail in the log only."""
    port = receiver.server.server_port
    notification = webhook_notification(url.format(port=port))
    assert outbox.deliver(notification.pk) == "retry"
    assert receiver.received == []
    notification.refresh_from_db()
    assert notification.last_error.startswith(error.format(port=port)), notification.last_error
    event = TimelineEvent.all_brands.get(incident=notification.incident, kind="notified")
    assert (event.data["outcome"], event.data["error"]) == ("retry", "not delivered")


def test_a_stored_url_of_another_scheme_fails_at_once(receiver, webhook_notification):
    notification = webhook_notification("ftp://example.com/x")
    assert outbox.deliver(notification.pk) == "failed"
    notification.refresh_from_db()
    assert notification.last_error == "webhook: not an http(s) URL with a host"


def test_backoff_doubles_and_is_capped(settings):
    settings.NOTIFICATION_BACKOFF_SECONDS = 5
    settings.NOTIFICATION_BACKOFF_MAX_SECONDS = 60
    assert [outbox.backoff_seconds(n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


def test_apprise_url_delivers_through_the_guarded_transport(receiver, webhook_notification, monkeypatch):
    # Apprise's generic JSON notifier posts to our local receiver, allowed as a local fake
    # (this address and port only): a real Apprise delivery, through outbound's sockets.
    opened = []
    open_socket = outbound._open_socket
    monkeypatch.setattr(outbound, "_open_socket", lambda *a: opened.append(a[1]) or open_socket(*a))
    port = receiver.server.server_port
    notification = webhook_notification(receiver.url)
    Notification.all_brands.filter(pk=notification.pk).update(
        channel="apprise", target=f"json://127.0.0.1:{port}/hook"
    )
    with outbound.trusting("127.0.0.1", port):
        assert outbox.deliver(notification.pk) == "sent"
    assert json.loads(receiver.received[0]["body"])["title"] == "s"
    assert opened == [("127.0.0.1", port)]


def test_contact_channels_api(api, bob, dns):
    dns["hooks.example.com"] = "93.184.215.14"
    client = api(bob)
    hook = client.post(
        "/api/v1/me/channels/",
        {"kind": "webhook", "target": "https://hooks.example.com/crisis"},
        format="json",
    )
    assert hook.status_code == 201, hook.data
    for bad in (
        {"kind": "webhook", "target": "http://127.0.0.1/x"},
        {"kind": "webhook", "target": "not a url"},
        {"kind": "email", "target": "nope"},
        {"kind": "apprise", "target": "nonsense://"},
        {"kind": "pager", "target": "x"},
    ):
        response = client.post("/api/v1/me/channels/", bad, format="json")
        assert response.status_code == 400, bad
    email = client.post("/api/v1/me/channels/", {"kind": "email", "target": "bob@acme.test"}, format="json")
    assert email.status_code == 201
    chat = client.post(
        "/api/v1/me/channels/",
        {"kind": "apprise", "target": "tgram://123456789:abcdefg_hijklmnop/987654"},
        format="json",
    )
    assert chat.status_code == 201, chat.data
    listed = client.get("/api/v1/me/channels/").data["results"]
    assert sorted(c["kind"] for c in listed) == ["apprise", "email", "webhook"]
    assert client.delete(f"/api/v1/me/channels/{email.data['id']}/").status_code == 204
    other = APIClient().get("/api/v1/me/channels/")
    assert other.status_code == 401


@pytest.mark.parametrize(
    "target,resolves_to,error",
    [
        ("https://hooks.example.com/crisis", "93.184.215.14", None),
        ("https://1.1.1.1/crisis", None, None),
        ("https://intranet.example.com/x", "10.1.2.3", "{host} does not resolve to a public address."),
        ("https://v6.example.com/x", "fd00::1", "{host} does not resolve to a public address."),
        ("https://nowhere.example.com/hook", None, "{host} does not resolve to a public address."),
        ("http://hooks.example.com/crisis", "93.184.215.14", "Use an https:// URL."),
    ],
)
def test_a_webhook_target_is_judged_by_what_its_name_resolves_to(target, resolves_to, error, api, bob, dns):
    """
    A public address over https is accepted; a private one, or a name that cannot be
    checked, is refused with one answer that does not say which (nor the address it
    resolved to: that would be a view of the desk's internal DNS).
    """
    if resolves_to:
        dns[target.split("/")[2]] = resolves_to
    response = api(bob).post("/api/v1/me/channels/", {"kind": "webhook", "target": target}, format="json")
    if error is None:
        assert response.status_code == 201, response.data
        assert response.data["target"] == target
    else:
        assert response.status_code == 400
        assert response.data["target"] == [error.format(host=target.split("/")[2])]


def test_webhook_channel_gets_a_secret(api, bob, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    response = api(bob).post(
        "/api/v1/me/channels/", {"kind": "webhook", "target": "http://127.0.0.1:9/hook"}, format="json"
    )
    assert response.status_code == 201
    assert len(response.data["secret"]) == 64


@pytest.mark.parametrize(
    "target",
    [
        "json://127.0.0.1:6379/x",
        "jsons://169.254.169.254/latest",
        "form://10.0.0.5/hook",
    ],
)
def test_generic_apprise_urls_obey_the_address_rules(target, api, bob):
    response = api(bob).post("/api/v1/me/channels/", {"kind": "apprise", "target": target}, format="json")
    assert response.status_code == 400
    assert "target" in response.data


def test_a_webhook_host_that_is_not_a_name_is_400(api, bob):
    response = api(bob).post(
        "/api/v1/me/channels/", {"kind": "webhook", "target": "http://ab\u3002\u3002c.com/x"}, format="json"
    )
    assert response.status_code == 400


class RecordingChannel(channels.Channel):
    """A channel plugged in by dotted path, as integrations/ plugs Telegram in."""

    sent: list = []

    def send_batch(self, notifications):
        for notification in notifications:
            RecordingChannel.sent.append(notification.target)
            yield (
                notification,
                channels.Outcome.retry("busy", after=30)
                if "busy" in notification.target
                else (channels.Outcome.sent()),
            )


def test_a_channel_plugged_in_by_dotted_path_delivers(webhook_notification, settings):
    settings.NOTIFICATION_CHANNELS = {
        **settings.NOTIFICATION_CHANNELS,
        "telegram": f"{__name__}.RecordingChannel",
    }
    RecordingChannel.sent = []
    first, second = webhook_notification("chat-1"), webhook_notification("busy-chat")
    Notification.all_brands.filter(pk__in=[first.pk, second.pk]).update(channel="telegram")
    assert [outbox.deliver(first.pk), outbox.deliver(second.pk)] == ["sent", "retry"]
    assert RecordingChannel.sent == ["chat-1", "busy-chat"]
    second.refresh_from_db()
    # Its Retry-After (30 s) is later than the first backoff (5 s): it waits that long.
    assert 29 <= (second.next_attempt_at - timezone.now()).total_seconds() <= 31


def test_a_kind_without_an_adapter_is_refused_at_save_and_waits_at_delivery(api, bob, webhook_notification):
    answer = api(bob).post("/api/v1/me/channels/", {"kind": "telegram", "target": "12345"}, format="json")
    assert answer.status_code == 400, answer.content
    assert list(answer.json()) == ["kind"]
    notification = webhook_notification("12345")
    Notification.all_brands.filter(pk=notification.pk).update(channel="telegram")
    assert outbox.deliver(notification.pk) == "retry"
    notification.refresh_from_db()
    assert notification.last_error == "no adapter for the channel 'telegram'"
