"""
The one table from a foreign tool's idea of "where it was posted" to our channels.

Listening tools name the place a mention was found in their own words: a domain
(`vk.com`, `t.me`, `twitter.com`), a URL, or a source type (YouScan's `resourceType`,
Meltwater's `source_type`, Talkwalker's `source_type`, Brand Analytics' `hubName`).
Every adapter and every pulled source maps them here, so that `vk.com` is `vk` whoever
reported it. Anything we do not know is `other`, never an error: a new network must
not cost a brand its mentions.

Shared by the inbound adapters and the pulled sources (integrations/sources/); add a
row here, not a mapping of your own.
"""

import functools
import re
from urllib.parse import urlsplit

from crisis.models import Channel

# Registrable domains (and the short ones platforms link with) → our channel. A
# subdomain matches its parent: `m.vk.com` and `pikabu.ru`'s `forum.` hosts alike.
DOMAINS: dict[str, str] = {
    "vk.com": Channel.VK,
    "vk.ru": Channel.VK,
    "vkontakte.ru": Channel.VK,
    "vk.cc": Channel.VK,
    "t.me": Channel.TELEGRAM,
    "telegram.me": Channel.TELEGRAM,
    "telegram.org": Channel.TELEGRAM,
    "instagram.com": Channel.INSTAGRAM,
    "instagr.am": Channel.INSTAGRAM,
    "facebook.com": Channel.FACEBOOK,
    "fb.com": Channel.FACEBOOK,
    "fb.watch": Channel.FACEBOOK,
    "twitter.com": Channel.X,
    "x.com": Channel.X,
    "t.co": Channel.X,
    "youtube.com": Channel.YOUTUBE,
    "youtu.be": Channel.YOUTUBE,
    "tiktok.com": Channel.TIKTOK,
    "ok.ru": Channel.OK,
    "odnoklassniki.ru": Channel.OK,
    "dzen.ru": Channel.DZEN,
    "zen.yandex.ru": Channel.DZEN,
    "otzovik.com": Channel.REVIEWS,
    "irecommend.ru": Channel.REVIEWS,
    "2gis.ru": Channel.REVIEWS,
    "flamp.ru": Channel.REVIEWS,
    "tripadvisor.com": Channel.REVIEWS,
    "tripadvisor.ru": Channel.REVIEWS,
    "trustpilot.com": Channel.REVIEWS,
    "pikabu.ru": Channel.FORUM,
    "reddit.com": Channel.FORUM,
    "banki.ru": Channel.FORUM,
}

# Source types as the tools spell them (compared in lower case) → our channel. Only
# types that name one place or one kind of place; "social" alone says too little.
SOURCE_TYPES: dict[str, str] = {
    "vk": Channel.VK,
    "vkontakte": Channel.VK,
    "telegram": Channel.TELEGRAM,
    "instagram": Channel.INSTAGRAM,
    "facebook": Channel.FACEBOOK,
    "twitter": Channel.X,
    "x": Channel.X,
    "socialmedia_twitter": Channel.X,
    "socialmedia_facebook": Channel.FACEBOOK,
    "socialmedia_instagram": Channel.INSTAGRAM,
    "socialmedia_youtube": Channel.YOUTUBE,
    "socialmedia_tiktok": Channel.TIKTOK,
    "socialmedia_vk": Channel.VK,
    "youtube": Channel.YOUTUBE,
    "tiktok": Channel.TIKTOK,
    "ok": Channel.OK,
    "odnoklassniki": Channel.OK,
    "dzen": Channel.DZEN,
    "news": Channel.MEDIA,
    "news_online": Channel.MEDIA,
    "online_news": Channel.MEDIA,
    "print": Channel.MEDIA,
    "broadcast": Channel.MEDIA,
    "tv": Channel.MEDIA,
    "radio": Channel.MEDIA,
    "media": Channel.MEDIA,
    "review": Channel.REVIEWS,
    "reviews": Channel.REVIEWS,
    "forum": Channel.FORUM,
    "forums": Channel.FORUM,
    "message_board": Channel.FORUM,
}


# The host of a plain `scheme://host[:port]/…` (or `//host…`): most of what listening tools
# send, read without urlsplit, which cost most of mapping a batch of 1,000 mentions.
# Anything else (user info, IPv6 brackets) goes through urlsplit as before.
_PLAIN_HOST = re.compile(r"(?:[a-z][a-z0-9+.-]*:)?//([^/?#@:\[\]\\\s]*)(?::[0-9]*)?(?:[/?#]|$)")


def channel_for_domain(value: str | None) -> str | None:
    """Our channel for a domain or URL (`vk.com`, `https://m.vk.com/wall-1_2`), or None if unknown."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().lower()[:2000]
    text = text if "//" in text else f"//{text}"
    plain = _PLAIN_HOST.match(text)
    if plain is not None:
        return _channel_of_host(plain[1])
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:  # "http://[::1" and such: a broken URL is no place we know
        return None
    return _channel_of_host(host)


@functools.lru_cache(maxsize=4096)
def _channel_of_host(host: str) -> str | None:
    """A host's channel: itself or its nearest parent domain in the table (cached: hosts repeat)."""
    host = host.removeprefix("www.").rstrip(".")
    while host:
        if host in DOMAINS:
            return DOMAINS[host]
        _first, dot, rest = host.partition(".")
        host = rest if dot else ""
    return None


def channel_for(*, domain: str | None = None, url: str | None = None, source_type: str | None = None) -> str:
    """
    Our channel for what a tool says about a mention's place: the domain first (the most
    specific), then the URL's host, then the tool's source type; `other` when none is known.
    """
    found = channel_for_domain(domain) or channel_for_domain(url)
    if found:
        return found
    if isinstance(source_type, str) and source_type.strip().lower() in SOURCE_TYPES:
        return SOURCE_TYPES[source_type.strip().lower()]
    return Channel.OTHER
