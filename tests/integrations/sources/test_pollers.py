"""Each tool's message → our mention, field by field (no network, no database)."""

import pytest

from integrations.channels import channel_for
from integrations.sources.pollers import base
from integrations.sources.pollers.brand_analytics import BrandAnalytics
from integrations.sources.pollers.json_feed import JsonFeed
from integrations.sources.pollers.talkwalker import Talkwalker, _chunks

BA_MESSAGE = {
    "id": 88123,
    "url": "https://m.vk.com/wall-20553_7781/",
    "timeCreate": 1764400000,
    "timeStore": 1764400090,
    "toneMark": -1,
    "hubName": "vk.com",
    "hubtypeId": 1,
    "authorRow": {"name": "Мария Котова", "readers_count": 184000},
    "textNorm": "Холодный капучино опять",
    "text": "<p>Холодный <b>капучино</b> опять</p>",
}


def test_brand_analytics_message():
    item = BrandAnalytics().mention(BA_MESSAGE)
    assert item == {
        "external_id": "https://vk.com/wall-20553_7781",
        "platform": "vk",
        "url": "https://m.vk.com/wall-20553_7781/",
        "author": "Мария Котова",
        "author_followers": 184000,
        "text": "Холодный капучино опять",
        "sentiment": "negative",
        "reach": 184000,
        "published_at": "2025-11-29T07:06:40+00:00",
    }


@pytest.mark.parametrize(("tone", "sentiment"), [(-1, "negative"), (0, "neutral"), (1, "positive")])
def test_brand_analytics_tone(tone, sentiment):
    assert BrandAnalytics().mention({**BA_MESSAGE, "toneMark": tone})["sentiment"] == sentiment


@pytest.mark.parametrize(
    "change",
    [{"toneMark": 2}, {"toneMark": True}, {"toneMark": "-1"}, {"timeStore": None}, {"timeStore": "later"},
     {"id": None}, {"id": ""}, {"authorRow": {"readers_count": -5}}, {"timeCreate": 10**20}],
)  # fmt: skip
def test_brand_analytics_unreadable_messages(change):
    with pytest.raises(base.ItemError):
        BrandAnalytics().mention({**BA_MESSAGE, **change})


def test_brand_analytics_unknown_site_is_other_and_keeps_the_tools_id():
    item = BrandAnalytics().mention(
        {**BA_MESSAGE, "hubName": "somecoffeeblog.example", "url": "https://x.example/1"}
    )
    assert item["platform"] == "other" and item["external_id"] == "brand_analytics:88123"
    news = BrandAnalytics().mention({**BA_MESSAGE, "hubName": "ria.example", "url": "", "hubtypeId": 2})
    assert news["platform"] == "media"


def test_brand_analytics_long_text_is_cut_not_refused():
    long_one = {**BA_MESSAGE, "textNorm": "я" * 20_000, "url": "https://vk.com/" + "a" * 3000}
    item = BrandAnalytics().mention(long_one)
    assert len(item["text"]) == 10_000 and item["url"] == ""


TW_DOCUMENT = {
    "url": "https://twitter.com/someone/status/1864000000000000001",
    "published": 1764400000123,
    "content": "Cold cappuccino again",
    "sentiment": -4,
    "source_type": ["SOCIALMEDIA", "SOCIALMEDIA_TWITTER"],
    "reach": 5400,
    "extra_author_attributes": {"name": "someone"},
}


def test_talkwalker_document():
    item = Talkwalker().mention(TW_DOCUMENT)
    assert item["platform"] == "x" and item["sentiment"] == "negative" and item["reach"] == 5400
    assert item["published_at"] == "2025-11-29T07:06:40.123000+00:00"
    assert item["external_id"] == "https://twitter.com/someone/status/1864000000000000001"
    assert Talkwalker().mention({**TW_DOCUMENT, "external_id": "1864000000000000001"})["external_id"] == (
        "1864000000000000001"
    )
    assert Talkwalker().mention({**TW_DOCUMENT, "sentiment": 0})["sentiment"] == "neutral"
    assert Talkwalker().mention({**TW_DOCUMENT, "sentiment": 3})["sentiment"] == "positive"
    news = Talkwalker().mention({**TW_DOCUMENT, "url": "https://news.example/a", "source_type": ["NEWS"]})
    assert news["platform"] == "media"


def test_talkwalker_chunks_back_to_back_and_cut():
    body = (
        b'{"chunk_type": "CT_CONTROL", "chunk_control": {"resume_offset": "o1"}}\n'
        b'  {"chunk_type": "CT_RESULT"}'
    )
    chunks, whole = _chunks(body, cut=False)
    assert [c["chunk_type"] for c in chunks] == ["CT_CONTROL", "CT_RESULT"] and whole
    chunks, whole = _chunks(body[:-5], cut=True)
    assert len(chunks) == 1 and not whole
    with pytest.raises(base.PollError):
        _chunks(body[:-5], cut=False)
    with pytest.raises(base.PollError):
        _chunks(b"[1]", cut=False)


def test_json_feed_item():
    feed = JsonFeed()
    item = feed.mention({"external_id": "a", "platform": "VK.com", "sentiment": "negative", "extra": 1})
    assert item == {"external_id": "a", "platform": "vk", "sentiment": "negative"}
    assert feed.mention({"platform": "myspace"})["platform"] == "other"
    with pytest.raises(base.ItemError):
        feed.mention(["not", "an", "object"])


def test_a_page_none_of_whose_messages_can_be_read_is_an_error():
    with pytest.raises(base.PollError, match="none of the 2"):
        BrandAnalytics().read_items([1, 2], BrandAnalytics().mention)
    items, skipped = BrandAnalytics().read_items([BA_MESSAGE, 7], BrandAnalytics().mention)
    assert len(items) == 1 and skipped == ["#2: a message is not an object"]


@pytest.mark.parametrize(
    ("given", "channel"),
    [({"domain": "t.me"}, "telegram"), ({"url": "https://www.youtube.com/watch?v=1"}, "youtube"),
     ({"domain": "ok.ru"}, "ok"), ({"source_type": "FORUM"}, "forum"),
     ({"domain": "nowhere.example"}, "other"),
     ({"url": "http://[::1"}, "other"), ({"domain": 42}, "other")],
)  # fmt: skip
def test_the_channel_table(given, channel):
    assert channel_for(**given) == channel


def test_post_key_is_one_spelling_of_a_post():
    assert base.post_key("HTTPS://WWW.VK.COM/wall-1_2/#reply") == base.post_key("http://m.vk.com/wall-1_2")
    assert base.post_key("https://vk.com/" + "a" * 400).startswith("sha256:")
