"""Notification delivery: signed webhooks, retries with backoff, refused addresses, Apprise."""

import hashlib
import hmac
import ipaddress
import json
import socket
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rest_framework.test import APIClient

from incidents import outbox
from incidents.models import Notification, TimelineEvent


class Receiver:
    """A local HTTP server that answers with the scripted statuses and records what it got."""

    def __init__(self):
        self.script: list = []  # status codes, or ("sleep", seconds) for a timeout
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body})
                step = receiver.script.pop(0) if receiver.script else 200
                if isinstance(step, tuple):
                    time.sleep(step[1])
                    step = 200
                self.send_response(step)
                if step in (301, 302):
                    self.send_header("Location", "http://example.com/")
                self.end_headers()

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


@pytest.fixture
def dns(monkeypatch):
    """
    A resolver that knows only the names a test gives it: `dns["name"] = "address"`.
    Literal addresses resolve to themselves; any other name does not resolve. The
    outcome of a check never depends on this machine's network.
    """
    names = {}

    def getaddrinfo(host, port, *args, **kwargs):
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            if host not in names:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            address = names[host]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

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
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
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
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.NOTIFICATION_BACKOFF_SECONDS = 5
    receiver.script = [503, ("sleep", 1.0)]
    notification = webhook_notification(receiver.url)

    assert outbox.deliver(notification.pk) == "retry"
    notification.refresh_from_db()
    first_retry = notification.next_attempt_at
    assert 4 <= (first_retry - notification.created_at).total_seconds() <= 7
    # Not due yet: the sweeper leaves it alone.
    assert outbox.republish_due(now=first_retry - timedelta(seconds=1)) == 0

    assert outbox.deliver(notification.pk) == "retry"  # the receiver is too slow: timeout
    notification.refresh_from_db()
    assert notification.last_error == "webhook: ReadTimeout"
    assert outbox.deliver(notification.pk) == "sent"
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
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    receiver.script = [500, 500, 500, 500]
    notification = webhook_notification(receiver.url)
    assert [outbox.deliver(notification.pk) for _ in range(4)] == ["retry", "retry", "failed", "skipped"]
    assert len(receiver.received) == 3


@pytest.mark.parametrize("status", [301, 400, 404])
def test_redirects_and_client_errors_are_not_retried(status, receiver, webhook_notification, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    receiver.script = [status]
    notification = webhook_notification(receiver.url)
    assert outbox.deliver(notification.pk) == "failed"
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    "url,error",
    [
        ("http://127.0.0.1:{port}/hook", "refused address 127.0.0.1 for 127.0.0.1"),
        ("http://localhost:{port}/hook", "refused address "),  # ::1 or 127.0.0.1, the hosts file's order
        ("http://[::1]:{port}/hook", "refused address ::1 for ::1"),
        ("http://10.0.0.1/hook", "refused address 10.0.0.1 for 10.0.0.1"),
        ("http://169.254.169.254/latest/meta-data", "refused address 169.254.169.254 for 169.254.169.254"),
        ("ftp://example.com/x", "webhook URL must be http(s) with a host"),
    ],
)
def test_refused_addresses_are_never_contacted(url, error, receiver, webhook_notification):
    notification = webhook_notification(url.format(port=receiver.server.server_port))
    assert outbox.deliver(notification.pk) == "failed"
    assert receiver.received == []
    notification.refresh_from_db()
    assert notification.last_error.startswith(error), notification.last_error


def test_backoff_doubles_and_is_capped(settings):
    settings.NOTIFICATION_BACKOFF_SECONDS = 5
    settings.NOTIFICATION_BACKOFF_MAX_SECONDS = 60
    assert [outbox.backoff_seconds(n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]


def test_apprise_url_delivers(receiver, webhook_notification, settings):
    # Apprise's generic JSON notifier posts to our local receiver: a real Apprise delivery.
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    notification = webhook_notification(receiver.url)
    Notification.all_brands.filter(pk=notification.pk).update(
        channel="apprise", target=f"json://127.0.0.1:{receiver.server.server_port}/hook"
    )
    assert outbox.deliver(notification.pk) == "sent"
    assert json.loads(receiver.received[0]["body"])["title"] == "s"


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
        ("https://intranet.example.com/x", "10.1.2.3", "refused address 10.1.2.3 for intranet.example.com"),
        ("https://v6.example.com/x", "fd00::1", "refused address fd00::1 for v6.example.com"),
        ("https://nowhere.example.com/hook", None, "cannot resolve nowhere.example.com: gaierror"),
    ],
)
def test_a_webhook_target_is_judged_by_what_its_name_resolves_to(target, resolves_to, error, api, bob, dns):
    """A public address is accepted; a private one, or a name that cannot be checked, is refused."""
    if resolves_to:
        dns[target.split("/")[2]] = resolves_to
    response = api(bob).post("/api/v1/me/channels/", {"kind": "webhook", "target": target}, format="json")
    if error is None:
        assert response.status_code == 201, response.data
        assert response.data["target"] == target
    else:
        assert response.status_code == 400
        assert response.data["target"] == [error]


def test_webhook_channel_gets_a_secret(api, bob, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
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
