"""
The guarded transport (incidents/outbound.py) and every way around it, for every channel
kind and every Apprise scheme the desk accepts.

Everything here runs on 127.0.0.1 and nothing reaches the internet: `connects` replaces
the one function that opens sockets, lets through only connections to 127.0.0.1 (the
test's own listeners) and refuses every other, recording each. Documentation ranges
(TEST-NET, 203.0.113.0/24 …) are not global addresses, so the guard refuses them like
private ones; "public" names here resolve to a global address (93.184.215.14) whose
connection `connects` refuses. A refusal must happen before any socket: the tests
assert that `connects` saw nothing.

The guard's tests run with OUTBOUND_ALLOW_PRIVATE_NETWORKS off; a local listener is
reached only through `outbound.trusting(address, port)`, for that exact pair.
"""

import ipaddress
import shutil
import ssl
import subprocess
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseRequestHandler, ThreadingTCPServer

import pytest
import requests

from api.errors import InvalidInput
from incidents import outbound, outbox
from incidents.channels import apprise as channel_apprise
from incidents.models import ContactChannel, Notification, TimelineEvent
from tests.incidents.test_outbox import Receiver, install_resolver

PUBLIC = "93.184.215.14"  # a global address; `connects` refuses to connect to it
SLOW = "93.184.215.15"  # a global address whose connection `connects` times out

# Every spelling of an inside address, as a URL with `{port}` (a live local listener).
INSIDE = [
    "http://2130706433:{port}/hook",  # decimal
    "http://0x7f000001:{port}/hook",  # hex
    "http://0177.0.0.1:{port}/hook",  # octal
    "http://127.1:{port}/hook",  # short
    "http://[::ffff:127.0.0.1]:{port}/hook",  # IPv4-mapped IPv6
    "http://[::ffff:7f00:1]:{port}/hook",  # the same, in hex
    "http://[::1]:{port}/hook",
    "http://127.0.0.1:{port}/hook",
    "http://0:{port}/hook",  # 0.0.0.0, which Linux connects to loopback
    "http://0.0.0.0:{port}/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/hook",
    "http://inside.example.test:{port}/hook",  # a name resolving to 127.0.0.1
    "http://mixed.example.test:{port}/hook",  # one public address and 127.0.0.1
]
INSIDE_URLS = [
    pytest.param(url.replace("http://", scheme), id=f"{scheme}{url[7:]}")
    for url in INSIDE
    for scheme in ("http://", "https://")
]
# The address a fixed chat service's name may be made to resolve to.
INSIDE_ADDRESSES = [
    "127.0.0.1",
    "::1",
    "::ffff:127.0.0.1",
    "10.0.0.1",
    "169.254.169.254",
    "0.0.0.0",  # noqa: S104 - an address to refuse, not to bind
    "fd00::1",
]

# The Apprise URLs the desk accepts whose plugin builds the host itself.
FIXED_SERVICES = {
    "tgram://123456789:abcdefg_hijklmnop/987654": "api.telegram.org",
    "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js": "discord.com",
    "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7/#general": "hooks.slack.com",
    "slack://xoxb-1234-1234-abc124/#general": "slack.com",
}

# Apprise schemes refused at save and at delivery: each reaches the host its URL names,
# several over raw TCP (irc, mailto, growl, syslog, mqtt).
REFUSED_SCHEMES = [
    "ntfy", "ntfys", "gotify", "gotifys", "mmost", "mmosts", "matrix", "matrixs", "irc", "ircs",
    "mailto", "mailtos", "xml", "xmls", "form", "forms", "rocket", "rockets", "kodi", "xbmc",
    "apprise", "apprises", "growl", "rsyslog", "syslog", "mqtt", "mqtts", "hassio", "hassios",
    "nctalk", "ncloud", "workflow", "workflows", "signal", "signals", "http", "https",
]  # fmt: skip


class Connects(list):
    """The (address, port) of every socket the transport tried to open."""

    def __init__(self):
        super().__init__()
        self.slow: set[str] = {SLOW}


@pytest.fixture(autouse=True)
def connects(monkeypatch, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    settings.WEBHOOK_TIMEOUT_SECONDS = 2.0
    opened = Connects()
    open_socket = outbound._open_socket

    def guarded_open_socket(family, sockaddr, *rest):
        opened.append(tuple(sockaddr[:2]))
        if sockaddr[0] in opened.slow:
            raise TimeoutError("timed out (the test's)")
        if sockaddr[0] != "127.0.0.1":
            raise ConnectionRefusedError(111, "Connection refused (the test lets nothing out)")
        return open_socket(family, sockaddr, *rest)

    monkeypatch.setattr(outbound, "_open_socket", guarded_open_socket)
    return opened


@pytest.fixture
def dns(monkeypatch):
    """The resolver of test_outbox.py: names resolve only as a test says, numbers as glibc reads them."""
    return install_resolver(monkeypatch)


@pytest.fixture
def names(dns):
    """The resolver, with the names most of these tests use."""
    dns["inside.example.test"] = "127.0.0.1"
    dns["mixed.example.test"] = [PUBLIC, "127.0.0.1"]
    dns["hooks.example.test"] = PUBLIC
    return dns


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def second():
    r = Receiver()
    yield r
    r.close()


class TCPListener:
    """A raw TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self):
        self.connections = 0
        listener = self

        class Handler(BaseRequestHandler):
            def handle(self):
                listener.connections += 1

        self.server = ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tcp():
    listener = TCPListener()
    yield listener
    listener.close()


@pytest.fixture
def stored(file_incident, alice):
    """A notification row as `enqueue` writes it, for a target saved before these rules or rebound since."""

    def make(channel, target):
        return Notification.objects.create(
            incident=file_incident(),
            recipient=alice,
            channel=channel,
            target=target,
            secret="s3cret",
            reason="escalated",
            subject="s",
            body="b",
            payload={"event": "escalated"},
            idempotency_key=uuid.uuid4(),
        )

    return make


def notified(notification) -> dict:
    return TimelineEvent.all_brands.filter(incident=notification.incident, kind="notified").latest("pk").data


# --- The address rules ----------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.255.255.254", "::1", "::ffff:127.0.0.1", "10.0.0.1", "172.16.0.1",
        "192.168.1.1", "100.64.0.1", "169.254.169.254", "fe80::1", "fd00::1", "0.0.0.0", "::",  # noqa: S104
        "224.0.0.1", "ff02::1", "240.0.0.1", "255.255.255.255", "2002:7f00:1::", "2002:a00:1::",
        "::7f00:1", "64:ff9b::a00:1", "192.0.0.8", "203.0.113.10", "198.51.100.1", "192.0.2.1",
        "198.18.0.1", "::ffff:169.254.169.254",
    ],
)  # fmt: skip
def test_inside_and_special_addresses_are_refused(address):
    assert outbound.address_refusal(ipaddress.ip_address(address), 443, "https")


@pytest.mark.parametrize("address", [PUBLIC, "1.1.1.1", "2606:4700:4700::1111", f"::ffff:{PUBLIC}"])
def test_public_addresses_pass_over_https_only(address):
    assert outbound.address_refusal(ipaddress.ip_address(address), 443, "https") == ""
    assert outbound.address_refusal(ipaddress.ip_address(address), 80, "http") == "plain http"


def test_allowing_private_networks_never_opens_metadata_multicast_or_unspecified(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    for address in ("127.0.0.1", "::1", "10.0.0.1", "fd00::1", "100.64.0.1"):
        assert outbound.address_refusal(ipaddress.ip_address(address), 80, "http") == "", address
    for address in ("169.254.169.254", "fe80::1", "0.0.0.0", "::", "224.0.0.1", "::ffff:169.254.169.254"):  # noqa: S104
        assert outbound.address_refusal(ipaddress.ip_address(address), 80, "http"), address


# --- Every spelling, refused before a socket opens ------------------------------------------


@pytest.mark.parametrize("url", INSIDE_URLS)
def test_every_spelling_of_an_inside_address_is_refused_before_connecting(url, names, receiver, connects):
    url = url.format(port=receiver.server.server_port)
    with pytest.raises(outbound.Refused):
        outbound.check_url(url)
    with pytest.raises(outbound.Refused) as refused:
        outbound.session.post(url, data=b"{}")
    assert refused.value.reason  # the detail, for the log
    assert connects == []
    assert receiver.received == []


@pytest.mark.parametrize("url", INSIDE_URLS)
@pytest.mark.parametrize("form", ["webhook", "json", "jsons"])
def test_no_channel_kind_saves_an_inside_target(form, url, names, receiver, api, bob, connects):
    url = url.format(port=receiver.server.server_port)
    kind, target = (
        ("webhook", url) if form == "webhook" else ("apprise", f"{form}://{url.split('://', 1)[1]}")
    )
    response = api(bob).post("/api/v1/me/channels/", {"kind": kind, "target": target}, format="json")
    assert response.status_code == 400, response.data
    assert "target" in response.data
    with pytest.raises(InvalidInput):  # the service's rule, whatever the edge let through
        outbox.channel_target_check(kind=kind, target=target)
    assert not ContactChannel.objects.filter(user=bob).exists()
    assert (connects, receiver.received) == ([], [])


@pytest.mark.parametrize("url", INSIDE_URLS)
@pytest.mark.parametrize("form", ["webhook", "json", "jsons"])
def test_no_channel_kind_delivers_to_an_inside_target(form, url, names, receiver, stored, connects):
    """A target saved before these rules, or one whose name points inside now: refused at delivery."""
    url = url.format(port=receiver.server.server_port)
    kind, target = (
        ("webhook", url) if form == "webhook" else ("apprise", f"{form}://{url.split('://', 1)[1]}")
    )
    notification = stored(kind, target)
    # Retried like a closed port; "failed" when Apprise itself cannot read the host.
    assert outbox.deliver(notification.pk) in ("retry", "failed")
    assert (connects, receiver.received) == ([], [])
    assert notified(notification)["error"] == "not delivered"


@pytest.mark.parametrize("target,host", FIXED_SERVICES.items())
@pytest.mark.parametrize("address", INSIDE_ADDRESSES)
def test_a_chat_service_whose_name_points_inside_is_refused(target, host, address, dns, stored, connects):
    """Telegram, Discord and Slack: the plugin builds the host, the transport still judges its address."""
    dns[host] = address
    notification = stored("apprise", target)
    assert outbox.deliver(notification.pk) == "retry"
    assert host in dns.asked  # the plugin's request went through the transport's resolver…
    assert connects == []  # …which refused it before any socket
    assert notified(notification)["error"] == "not delivered"


@pytest.mark.parametrize("target,host", FIXED_SERVICES.items())
def test_a_chat_service_is_reached_only_through_the_guarded_sockets(
    target, host, api, bob, dns, stored, connects
):
    dns[host] = PUBLIC
    response = api(bob).post("/api/v1/me/channels/", {"kind": "apprise", "target": target}, format="json")
    assert response.status_code == 201, response.data
    notification = stored("apprise", target)
    assert outbox.deliver(notification.pk) == "retry"  # `connects` refused the public address
    assert connects == [(PUBLIC, 443)]  # pinned: the address that was checked, TLS to the name


def test_a_chat_plugin_is_held_to_its_own_hosts(connects):
    requests_of_telegram = channel_apprise._PluginRequests(frozenset({"api.telegram.org"}))
    with pytest.raises(outbound.Refused):
        requests_of_telegram.post("https://127.0.0.1/bot1:x/sendMessage", json={})
    with pytest.raises(outbound.Refused):
        requests_of_telegram.get("https://attacker.example.test/")
    assert connects == []


# --- Apprise schemes the desk does not accept ----------------------------------------------


@pytest.mark.parametrize("scheme", REFUSED_SCHEMES)
def test_other_apprise_schemes_are_refused_at_save_and_at_delivery(scheme, tcp, api, bob, stored, connects):
    target = f"{scheme}://127.0.0.1:{tcp.port}/topic"
    response = api(bob).post("/api/v1/me/channels/", {"kind": "apprise", "target": target}, format="json")
    assert response.status_code == 400, response.data
    notification = stored("apprise", target)
    assert outbox.deliver(notification.pk) == "failed"
    assert (tcp.connections, connects) == (0, [])


# --- Several URLs in one -----------------------------------------------------------------------

TELEGRAM = "tgram://123456789:abcdefg_hijklmnop/987654"
MULTI = [
    f"{TELEGRAM} json://127.0.0.1:{{port}}/",
    f"{TELEGRAM},json://127.0.0.1:{{port}}/",
    f"{TELEGRAM};json://127.0.0.1:{{port}}/",
    f"{TELEGRAM}, irc://127.0.0.1:{{port}}/#x",
    "jsons://hooks.example.test/a\njson://127.0.0.1:{port}/",
    "jsons://hooks.example.test/a\tjson://127.0.0.1:{port}/",
    "jsons://hooks.example.test/?next=json://127.0.0.1:{port}/",
]


@pytest.mark.parametrize("target", MULTI)
def test_a_string_of_several_urls_is_refused_at_save_and_at_delivery(
    target, tcp, names, api, bob, stored, connects
):
    target = target.format(port=tcp.port)
    response = api(bob).post("/api/v1/me/channels/", {"kind": "apprise", "target": target}, format="json")
    assert response.status_code == 400, response.data
    notification = stored("apprise", target)
    assert outbox.deliver(notification.pk) == "failed"  # neither part is sent
    assert (tcp.connections, connects) == (0, [])


# --- Redirects ----------------------------------------------------------------------------------

REDIRECTS = [
    "http://127.0.0.1:{port}/",
    "http://2130706433:{port}/",
    "http://127.1:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://inside.example.test:{port}/",
    "https://127.0.0.1:{port}/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
]


@pytest.mark.parametrize("location", REDIRECTS)
def test_a_redirect_to_an_inside_address_is_refused_hop_by_hop(location, names, receiver, second, connects):
    # The first hop is a local fake, allowed for its exact address and port; the second
    # listener, where the redirect points, is not.
    first = receiver.server.server_port
    receiver.script = [302]
    receiver.location = location.format(port=second.server.server_port)
    with outbound.trusting("127.0.0.1", first), pytest.raises(outbound.Refused):
        outbound.session.get(f"http://127.0.0.1:{first}/feed", allow_redirects=True)
    assert len(receiver.received) == 1
    assert second.received == []
    assert connects == [("127.0.0.1", first)]


@pytest.mark.parametrize("location", REDIRECTS)
def test_deliveries_never_follow_a_redirect(location, names, receiver, second, stored, connects):
    first = receiver.server.server_port
    receiver.location = location.format(port=second.server.server_port)
    hook = stored("webhook", f"http://127.0.0.1:{first}/hook")
    chat = stored("apprise", f"json://127.0.0.1:{first}/hook")
    receiver.script = [302, 302]
    with outbound.trusting("127.0.0.1", first):
        assert outbox.deliver(hook.pk) == "failed"
        assert outbox.deliver(chat.pk) == "retry"
    assert notified(hook)["error"] == "answered 302"
    assert len(receiver.received) == 2
    assert second.received == []


# --- DNS rebinding and pinning --------------------------------------------------------------------


@pytest.mark.parametrize("form", ["webhook", "jsons"])
def test_a_name_public_at_save_and_inside_at_delivery_is_refused_at_delivery(
    form,
    dns,
    receiver,
    api,
    bob,
    stored,
    connects,
):
    port = receiver.server.server_port
    dns["flip.example.test"] = PUBLIC
    kind, target = (
        ("webhook", f"https://flip.example.test:{port}/hook")
        if form == "webhook"
        else ("apprise", f"jsons://flip.example.test:{port}/hook")
    )
    response = api(bob).post("/api/v1/me/channels/", {"kind": kind, "target": target}, format="json")
    assert response.status_code == 201, response.data
    dns["flip.example.test"] = "127.0.0.1"  # the attacker's DNS answers differently now
    notification = stored(kind, target)
    assert outbox.deliver(notification.pk) == "retry"
    assert (connects, receiver.received) == ([], [])
    assert notified(notification)["error"] == "not delivered"
    notification.refresh_from_db()
    if form == "webhook":
        assert "(127.0.0.1)" in notification.last_error  # the detail stays on the server


def test_the_connection_goes_to_the_address_that_was_checked(dns, connects):
    """One lookup per connection: a name cannot answer public to the check and private to the connect."""
    answers = iter([PUBLIC, "127.0.0.1", "127.0.0.1"])
    dns["flip.example.test"] = lambda: next(answers)
    with pytest.raises(requests.ConnectionError):  # `connects` refuses the public address
        outbound.session.post("https://flip.example.test/hook", data=b"{}")
    assert connects == [(PUBLIC, 443)]
    assert dns.asked.count("flip.example.test") == 1


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl command")
def test_pinning_keeps_the_name_for_host_sni_and_the_certificate(dns, tmp_path, connects):
    """Connected to the checked address, TLS still verifies the certificate of the name."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-subj", "/CN=hooks.example.test", "-addext", "subjectAltName=DNS:hooks.example.test",
         "-days", "1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    seen = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen["host"] = self.headers["Host"]
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def sni(sslobj, name, ctx):
        seen["sni"] = name

    context.sni_callback = sni
    server.socket = context.wrap_socket(server.socket, server_side=True)
    port = server.server_port
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        dns["hooks.example.test"] = "127.0.0.1"
        dns["other.example.test"] = "127.0.0.1"
        with outbound.trusting("127.0.0.1", port):
            response = outbound.session.get(f"https://hooks.example.test:{port}/", verify=str(cert))
            assert response.status_code == 204
            assert seen == {"sni": "hooks.example.test", "host": f"hooks.example.test:{port}"}
            with pytest.raises(requests.exceptions.SSLError):  # the certificate is not for this name
                outbound.session.get(f"https://other.example.test:{port}/", verify=str(cert))
    finally:
        server.shutdown()
        server.server_close()


# --- What the timeline tells ------------------------------------------------------------------------


def test_refused_closed_and_slow_targets_look_alike_on_the_timeline(dns, stored, connects):
    dns["inside.example.test"] = "10.0.0.1"
    dns["closed.example.test"] = PUBLIC
    dns["slow.example.test"] = SLOW
    rows = [
        stored("webhook", f"https://{name}.example.test/hook") for name in ("inside", "closed", "slow")
    ] + [stored("apprise", f"jsons://{name}.example.test/hook") for name in ("inside", "closed", "slow")]
    assert [outbox.deliver(row.pk) for row in rows] == ["retry"] * 6
    assert {(notified(row)["outcome"], notified(row)["error"]) for row in rows} == {
        ("retry", "not delivered")
    }
    assert connects == [(PUBLIC, 443), (SLOW, 443)] * 2  # never to 10.0.0.1
    errors = {Notification.all_brands.get(pk=row.pk).last_error for row in rows[:3]}
    assert len(errors) == 3  # the server's log tells them apart


# --- Nothing else decides where a request goes ------------------------------------------------------


def test_proxies_from_the_environment_are_ignored_and_asked_ones_refused(
    names, receiver, monkeypatch, connects
):
    proxy = f"http://127.0.0.1:{receiver.server.server_port}"
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(variable, proxy)
    with pytest.raises(requests.ConnectionError):  # `connects` refuses the public address itself
        outbound.session.post("https://hooks.example.test/hook", data=b"{}")
    assert connects == [(PUBLIC, 443)]
    with pytest.raises(outbound.Refused):
        outbound.session.post("https://hooks.example.test/hook", data=b"{}", proxies={"https": proxy})
    assert receiver.received == []


def test_cookies_are_never_kept(receiver, connects):
    port = receiver.server.server_port
    receiver.cookie = "session=abc; Path=/"
    with outbound.trusting("127.0.0.1", port):
        outbound.session.get(f"http://127.0.0.1:{port}/a")
        outbound.session.get(f"http://127.0.0.1:{port}/b")
    assert len(outbound.session.cookies) == 0
    assert "Cookie" not in receiver.received[1]["headers"]


def test_other_schemes_have_no_adapter(connects):
    with pytest.raises(requests.exceptions.InvalidSchema):
        outbound.session.get("file:///etc/passwd")
    with pytest.raises(outbound.Refused):
        outbound.check_url("ftp://example.com/x")
    assert connects == []


def test_a_local_fake_is_trusted_for_its_exact_address_and_port_only(receiver, second, connects):
    port, other = receiver.server.server_port, second.server.server_port
    with outbound.trusting("127.0.0.1", port):
        assert outbound.session.get(f"http://127.0.0.1:{port}/").status_code == 200
        with pytest.raises(outbound.Refused):
            outbound.session.get(f"http://127.0.0.1:{other}/")
    with pytest.raises(outbound.Refused):
        outbound.session.get(f"http://127.0.0.1:{port}/")
    assert (len(receiver.received), second.received) == (1, [])
