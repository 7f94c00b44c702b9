"""
The one guarded transport for every outbound HTTP connection (DESIGN.md, rule 8):
signed webhooks, Apprise's chat services, and later chat and pulled sources.

`session` is a `requests.Session` whose adapter opens every connection itself:

1. the scheme is https; plain http only with `OUTBOUND_ALLOW_PRIVATE_NETWORKS` (local
   fakes in development and tests);
2. the host is resolved here, by `socket.getaddrinfo`, and every address it gives is
   judged by `ipaddress` — never the URL's spelling: "2130706433", "0x7f000001",
   "0177.0.0.1", "127.1" and "[::ffff:127.0.0.1]" are whatever the resolver says;
3. if any of the addresses is refused, no socket is opened at all;
4. the socket connects to an address that was checked, while the Host header, TLS SNI
   and the certificate check keep the name: a second lookup cannot swap the address
   (DNS rebinding), because there is no second lookup;
5. redirects are not followed unless a caller asks; each hop then opens its connection
   through the same steps, so a redirect to a refused address is refused like any URL.

Proxies and .netrc from the environment are ignored and cookies are never stored:
nothing outside this module decides where a request goes, and nothing one user's
channel receives is sent to another's. Connections are pooled per host (keep-alive),
each pinned to the address it was opened to.

Refusals raise `Refused`, a `requests.RequestException`: code that already handles a
failed request (Apprise's plugins) handles a refusal the same way. `str()` of it is fit
to show the person who typed the URL at save time; `reason` (with the resolved
address) is for the server's log only, because the outcome of a delivery must not tell
a refused address from a closed port.
"""

import ipaddress
import logging
import os
import socket
from contextlib import contextmanager
from http.cookiejar import DefaultCookiePolicy

import requests
from django.conf import settings
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, LocationParseError, NewConnectionError
from urllib3.util import parse_url

logger = logging.getLogger(__name__)

SCHEMES = ("https", "http")
MAX_REDIRECTS = 5
POOLED_HOSTS = 100
# Ranges `ipaddress` calls global that no notification should go to: IETF protocol
# assignments and the deprecated 6to4 relay anycast.
ALSO_REFUSED = (ipaddress.ip_network("192.0.0.0/24"), ipaddress.ip_network("192.88.99.0/24"))

# Exact (address, port) pairs a test has declared to be a local fake (see `trusting`).
_trusted: set[tuple[str, int]] = set()


class Refused(requests.RequestException):
    """A connection the guard would not open; str() for the URL's author, `reason` for logs."""

    def __init__(self, message: str, *, reason: str, request=None):
        super().__init__(message, request=request)
        self.reason = reason


class _NotOpened(Exception):
    # urllib3 wraps any OSError raised while connecting (requests' exceptions are
    # OSErrors) into a retryable "connection error"; this one passes through it untouched.
    def __init__(self, refused: Refused):
        super().__init__(refused.reason)
        self.refused = refused


@contextmanager
def trusting(address: str, port: int):
    """Tests only: treat one local fake (this address and port exactly) as public, http included."""
    key = (str(ipaddress.ip_address(address)), port)
    _trusted.add(key)
    try:
        yield
    finally:
        _trusted.discard(key)


def _private_allowed() -> bool:
    return bool(getattr(settings, "OUTBOUND_ALLOW_PRIVATE_NETWORKS", False))


def _judged(address) -> list:
    """The addresses that decide: an IPv6 address that carries an IPv4 one is judged by both."""
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return [address.ipv4_mapped]
        carried = [address.sixtofour, *(address.teredo or ())]
        return [address, *(a for a in carried if a is not None)]
    return [address]


def address_refusal(address, port: int, scheme: str) -> str:
    """Why the desk will not connect to this address (empty: it will)."""
    if (str(address), port) in _trusted:
        return ""
    for judged in _judged(address):
        # Never, whatever the setting: cloud metadata lives on link-local addresses.
        if judged.is_multicast or judged.is_unspecified or judged.is_link_local:
            return f"{judged} is link-local, multicast or unspecified"
        if judged.is_reserved and not judged.is_loopback:
            return f"{judged} is reserved"
        public = judged.is_global and not any(judged in net for net in ALSO_REFUSED)
        if not public and not _private_allowed():
            return f"{judged} is not a public address"
    if scheme != "https" and not _private_allowed():
        return "plain http"
    return ""


def connectable(host: str, port: int, scheme: str) -> list[tuple[int, tuple]]:
    """
    The (family, sockaddr) pairs to connect to for host:port, every one of them checked.

    Raises `Refused` when the scheme is not on the list, the name does not resolve, or
    any address it resolves to is refused: a name that answers one public and one
    private address is not half trusted.
    """
    host = host.strip("[]")
    shown = host[:100]
    if scheme not in SCHEMES:
        raise Refused(_("Use an https:// URL."), reason=f"scheme {scheme[:20]!r}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:
        refused = Refused(
            _("%(host)s does not resolve to a public address.") % {"host": shown},
            reason=f"{shown}: cannot resolve ({type(exc).__name__})",
        )
        logger.warning("outbound refused: %s", refused.reason)
        raise refused from None
    found = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        why = address_refusal(address, port, scheme)
        if why:
            if why == "plain http":
                message = _("Use an https:// URL.")
            else:
                message = _("%(host)s does not resolve to a public address.") % {"host": shown}
            refused = Refused(message, reason=f"{shown}:{port} ({address}): {why}")
            logger.warning("outbound refused: %s", refused.reason)
            raise refused
        if (family, sockaddr) not in found:
            found.append((family, sockaddr))
    if not found:
        raise Refused(
            _("%(host)s does not resolve to a public address.") % {"host": shown},
            reason=f"{shown}: no IPv4 or IPv6 address",
        )
    return found


def check_url(url: str) -> None:
    """Refuse, before saving it, a URL the transport would not connect to (it checks again then)."""
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise Refused(_("A URL may not contain spaces or control characters."), reason="spaces in URL")
    try:
        parts = parse_url(requests.Request("POST", url).prepare().url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except (requests.RequestException, LocationParseError, ValueError, UnicodeError):
        raise Refused(_("Enter a valid URL."), reason="unparsable URL") from None
    if parts.scheme not in SCHEMES:
        raise Refused(_("Use an https:// URL."), reason=f"scheme {str(parts.scheme)[:20]!r}")
    if not parts.host:
        raise Refused(_("Enter a valid URL."), reason="no host")
    connectable(parts.host, port, parts.scheme)


def _open_socket(family: int, sockaddr: tuple, timeout, source_address, socket_options) -> socket.socket:
    """Connect one socket to a checked address: the only place a connection is made."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        for option in socket_options or ():
            sock.setsockopt(*option)
        if timeout is None or isinstance(timeout, int | float):
            sock.settimeout(timeout)
        if source_address:
            sock.bind(source_address)
        sock.connect(sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


class _GuardedConnectionMixin:
    """urllib3's connection, resolving, checking and pinning the address itself."""

    outbound_scheme = "https"

    def _new_conn(self) -> socket.socket:
        try:
            addresses = connectable(self._dns_host, self.port, self.outbound_scheme)
        except Refused as refused:
            raise _NotOpened(refused) from None
        error: Exception | None = None
        for family, sockaddr in addresses:
            try:
                return _open_socket(family, sockaddr, self.timeout, self.source_address, self.socket_options)
            except TimeoutError as exc:
                error = ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                )
                error.__cause__ = exc
            except OSError as exc:
                error = NewConnectionError(self, f"Failed to establish a new connection: {exc}")
                error.__cause__ = exc
        raise error


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    outbound_scheme = "http"


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    outbound_scheme = "https"


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter whose pools open only guarded connections, and never through a proxy."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        raise Refused(_("Enter a valid URL."), reason="a proxy was asked for")

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        if proxies and any(proxies.values()):
            raise Refused(_("Enter a valid URL."), reason="a proxy was asked for", request=request)
        try:
            return super().send(
                request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=None
            )
        except _NotOpened as exc:
            exc.refused.request = request
            raise exc.refused from None


class GuardedSession(requests.Session):
    """A Session that goes out only through `GuardedAdapter`, with a timeout and no redirects by default."""

    def __init__(self):
        super().__init__()
        self.trust_env = False  # no proxies, CA bundles or .netrc from the environment
        self.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.max_redirects = MAX_REDIRECTS
        self.headers["User-Agent"] = "CrisisDesk/1"
        self.adapters.clear()
        # A pool per host (keep-alive), for as many hosts as a burst of deliveries names:
        # urllib3 drops the least recently used pool, and its connections, past this many.
        adapter = GuardedAdapter(pool_connections=POOLED_HOSTS)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method, url, *args, allow_redirects=False, timeout=None, **kwargs):
        if timeout is None:
            timeout = settings.WEBHOOK_TIMEOUT_SECONDS
        return super().request(method, url, *args, allow_redirects=allow_redirects, timeout=timeout, **kwargs)

    # requests' get() and options() ask for redirects themselves; here only the caller does.
    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)

    def options(self, url, **kwargs):
        return self.request("OPTIONS", url, **kwargs)


session = GuardedSession()


def _new_session_after_fork():
    # A forked worker must not share its parent's pooled sockets.
    global session
    session = GuardedSession()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_session_after_fork)
