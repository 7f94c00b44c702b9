"""The one channel table: its fast reading of a URL's host agrees with urlsplit's everywhere."""

from urllib.parse import urlsplit

from hypothesis import example, given, settings
from hypothesis import strategies as st

from integrations.channels import DOMAINS, channel_for, channel_for_domain


def by_urlsplit(value):
    """The table's answer with the host read by urlsplit alone (what the fast path must equal)."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip().lower()[:2000]
    try:
        host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    except ValueError:
        return None
    host = host.removeprefix("www.").rstrip(".")
    while host:
        if host in DOMAINS:
            return DOMAINS[host]
        host = host.partition(".")[2]
    return None


PIECES = st.sampled_from(
    ["https://", "http://", "//", "vk.com", "m.vk.com", "t.me", "www.", "x.com", ":443", ":", "@", "user",
     "/wall-1_2", "?a=1", "#top", "[::1]", "\\", "\t", " ", ".", "VK.COM", "ok.ru", "evil.example", "%2F"]
)  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.lists(PIECES, max_size=8).map("".join))
@example("https://user@vk.com/x")
@example("https://vk.com\\@evil.example/")
@example("https://v\tk.com/")
@example("http://[::1")
@example("HTTPS://WWW.Instagram.com:8080/p/abc")
def test_the_fast_host_reading_agrees_with_urlsplit(value):
    assert channel_for_domain(value) == by_urlsplit(value)


def test_known_places_and_unknown_ones():
    assert channel_for(domain="vk.com") == "vk"
    assert channel_for(url="https://m.vk.com/wall-1_2") == "vk"
    assert channel_for(url="https://t.me/s/acme/12") == "telegram"
    assert channel_for(url="https://www.youtube.com/watch?v=x") == "youtube"
    assert channel_for(url="https://blog.example/p/1", source_type="news") == "media"
    assert channel_for(url="https://blog.example/p/1", source_type="blog") == "other"
    assert channel_for() == "other"
