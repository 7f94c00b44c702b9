"""
Chat services through Apprise URLs (tgram://, discord://, slack://, json(s)://).

Only the schemes listed are accepted, each plugin's HTTP goes through the guarded
transport (`outbound.session`), to the hosts that plugin is known to use. Apprise
answers only yes or no: a failure is retried, its reason is in the worker's log.
"""

import logging
from urllib.parse import urlsplit

import apprise
import requests
from apprise.utils.parse import parse_urls
from django.conf import settings
from django.utils.translation import gettext as _

from .. import outbound
from . import NOT_DELIVERED, Channel, Outcome, split_evenly

logger = logging.getLogger(__name__)


# The Apprise schemes the desk accepts, each with its plugin's module and the hosts that
# plugin builds itself (None: the URL names the host, which the transport judges as it
# judges a webhook's). Every other scheme is refused: ntfy, gotify, mattermost, matrix
# and most others post to whatever host the URL names, and irc, mailto and a few more
# open raw TCP connections that no HTTP guard sees. Microsoft Teams' Apprise plugin is
# gone from Apprise 2 (its Workflows successor names any host): a signed webhook serves.
APPRISE_SERVICES = {
    "tgram": ("apprise.plugins.telegram", frozenset({"api.telegram.org"})),
    "discord": ("apprise.plugins.discord", frozenset({"discord.com"})),
    "slack": ("apprise.plugins.slack", frozenset({"hooks.slack.com", "hooks.slack-gov.com", "slack.com"})),
    "json": ("apprise.plugins.custom_json", None),
    "jsons": ("apprise.plugins.custom_json", None),
}
_PLUGIN_HOSTS = {module: hosts for module, hosts in APPRISE_SERVICES.values()}


def apprise_sender(url: str) -> apprise.Apprise:
    """An Apprise holding the one plugin `url` names; `outbound.Refused` for other schemes or several URLs."""
    # Apprise splits a string on spaces, commas and semicolons before a second scheme, so
    # "tgram://… json://10.0.0.1/" would be checked as one URL and sent as two.
    if url.count("://") != 1 or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise outbound.Refused(_("One URL per channel, without spaces."), reason="several URLs or spaces")
    scheme = url.partition("://")[0].lower()
    if scheme not in APPRISE_SERVICES:
        raise outbound.Refused(
            _(
                "Chat URLs may be Telegram (tgram://), Discord (discord://), Slack (slack://) "
                "or JSON over HTTPS (jsons://); use a signed webhook for anything else."
            ),
            reason=f"apprise scheme {scheme[:20]!r}",
        )
    sender = apprise.Apprise()
    if parse_urls(url) != [url] or not sender.add(url) or len(sender) != 1:
        raise outbound.Refused(_("Not a usable Apprise URL."), reason="apprise did not take it as one URL")
    if type(sender[0]).__module__ != APPRISE_SERVICES[scheme][0]:
        raise outbound.Refused(_("Not a usable Apprise URL."), reason=f"{scheme} served by another plugin")
    return sender


def check_apprise_target(url: str) -> None:
    """Refuse, before saving it, an Apprise URL the desk would not deliver to (`outbound.Refused`)."""
    plugin = apprise_sender(url)[0]
    if _PLUGIN_HOSTS[type(plugin).__module__] is None:
        host, port = str(plugin.host or ""), f":{plugin.port}" if plugin.port else ""
        outbound.check_url(f"{'https' if plugin.secure else 'http'}://{host}{port}/")


class _PluginRequests:
    """
    Stands in for `requests` inside an accepted Apprise plugin's module, so that the
    plugin's HTTP goes through the guarded transport, to the hosts it is known to use.
    """

    RequestException = requests.RequestException
    codes = requests.codes

    def __init__(self, hosts):
        self.hosts = hosts

    def request(self, method, url, **kwargs):
        host = urlsplit(url).hostname or ""
        if self.hosts is not None and host not in self.hosts:
            logger.warning("outbound refused: an Apprise plugin asked for %s", host[:100])
            raise outbound.Refused(NOT_DELIVERED, reason=f"apprise plugin host {host[:100]}")
        # A URL's options turn neither certificate checks off nor redirects on.
        kwargs.update(verify=True, allow_redirects=False)
        return outbound.session.request(method, url, **kwargs)

    def get(self, url, params=None, **kwargs):
        return self.request("GET", url, params=params, **kwargs)

    def post(self, url, data=None, json=None, **kwargs):
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url, data=None, **kwargs):
        return self.request("PUT", url, data=data, **kwargs)


def _through_outbound(plugin) -> None:
    """Point the plugin's module at the guarded transport (again, if Apprise reloaded it)."""
    namespace = type(plugin).send.__globals__
    if not isinstance(namespace.get("requests"), _PluginRequests):
        namespace["requests"] = _PluginRequests(_PLUGIN_HOSTS[type(plugin).__module__])


class AppriseChannel(Channel):
    def __init__(self):
        self.concurrency = max(1, settings.NOTIFICATION_APPRISE_CONCURRENCY)

    def batches(self, notifications):
        return split_evenly(notifications, self.concurrency)

    def check_target(self, target: str) -> None:
        check_apprise_target(target)

    def send_batch(self, notifications):
        for notification in notifications:
            yield notification, self.send(notification)

    def send(self, notification) -> Outcome:
        try:
            sender = apprise_sender(notification.target)
        except outbound.Refused as exc:
            return Outcome.failed(f"apprise: {exc.reason}")
        _through_outbound(sender[0])
        # Apprise answers only yes or no; its plugin logs why, and the transport logs a refusal.
        if not sender.notify(title=notification.subject, body=notification.body):
            return Outcome.retry("apprise: not delivered (the worker's log says why)")
        return Outcome.sent()
