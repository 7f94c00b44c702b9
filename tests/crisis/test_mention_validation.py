"""
Mention validation: `validate_mention_batch` (crisis/mention_input.py) is the one set of
rules and messages for the mentions endpoint (single posts and batches of 1,000) and the
adapters that turn other tools' shapes into mentions.

What a monitoring tool sends is accepted and normalised; each broken value is a 400 that
names the item and the field with DRF's message; NUL and lone surrogates are a message
too in what names things, and in free text (author, text) are dropped and replaced.
Hypothesis throws well-formed and broken values at it: whatever comes in, the answer is
data or a `ValidationError`, never another exception.
"""

from datetime import UTC, datetime, timedelta, timezone

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from crisis.mention_input import MENTION_TEXT_MAX, validate_mention_batch
from crisis.models import Category, Channel, Sentiment
from crisis.serializers import EARLIEST_REPORTED_AT

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
)


def texts(max_length):
    edge = st.sampled_from(
        [
            "",
            " ",
            "  padded  ",
            "\tline\n",
            "a" * max_length,
            "a" * (max_length + 1),
            " " + "a" * max_length + " ",
            "nul\x00",
            "lone \ud800 surrogate",
            "ok",
        ]
    )
    return st.one_of(edge, st.text(max_size=40), junk)


def choices(values):
    return st.one_of(st.sampled_from(values), st.sampled_from(["", "VK", " vk", "unknown"]), junk)


def counts(maximum):
    return st.one_of(
        st.sampled_from([0, 1, maximum, maximum + 1, -1]),
        st.integers(),
        junk,
        st.sampled_from(["12", "1.0", 3.0]),
    )


def moments():
    offsets = st.sampled_from([UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-7))])
    aware = st.builds(
        lambda delta, tz: (NOW - delta).astimezone(tz),
        st.timedeltas(min_value=timedelta(seconds=-120), max_value=timedelta(days=365 * 30)),
        offsets,
    )
    as_text = st.one_of(
        aware.map(lambda d: d.isoformat()),
        aware.map(lambda d: d.isoformat().replace("+00:00", "Z")),
        aware.map(lambda d: d.replace(tzinfo=None).isoformat()),  # naive
        aware.map(lambda d: d.date().isoformat()),
    )
    edge = st.sampled_from(
        [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "1999-12-31T23:59:59Z",
            "2000-01-01T00:00:00+00:00",
            "2026-11-21T12:00:29Z",
            "2026-11-21T12:00:31Z",
            "9999-12-31T23:59:59-14:00",
            "2026-11-21 12:00:00+03:00",
        ]
    )
    return st.one_of(as_text, edge, junk)


padded = st.builds(
    lambda pad, text: pad + text + pad,
    st.sampled_from(["", "", " ", "\n\t"]),
    st.text(min_size=1, max_size=60),
)


def iso(moment: datetime, zulu: bool) -> str:
    text = moment.isoformat()
    return text.replace("+00:00", "Z") if zulu else text


valid_moments = st.builds(
    lambda delta, tz, zulu: iso((NOW - delta).astimezone(tz), zulu),
    st.timedeltas(min_value=timedelta(seconds=-29), max_value=timedelta(days=365 * 26)),
    st.sampled_from([UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-7))]),
    st.booleans(),
)

# Per field: values a monitoring tool sends, and values that test the edges or break it.
FIELDS = {
    "brand": (
        st.from_regex(r"[-a-zA-Z0-9_]{1,50}", fullmatch=True),
        st.one_of(st.sampled_from(["Acme", "ac me", "a" * 51, " acme ", "acme\n"]), texts(50)),
    ),
    "external_id": (padded, texts(255)),
    "platform": (st.sampled_from(Channel.values), choices(Channel.values)),
    "url": (
        st.sampled_from(
            [
                "https://vk.com/wall-1_2",
                " https://t.me/x/1 ",
                "ftp://x.org/f",
                "",
                "http://[::1]:8080/a?b=c#d",
                "https://xn--e1afmkfd.xn--p1ai/",
            ]
        ),
        st.one_of(
            st.sampled_from(
                ["javascript:alert(1)", "http://", "https://exa mple.com", "https://" + "a" * 2000 + ".com"]
            ),
            texts(2000),
        ),
    ),
    "author": (st.one_of(padded, st.just("")), texts(255)),
    "author_followers": (st.integers(0, 10**12), counts(10**12)),
    "text": (
        st.one_of(st.text(max_size=300), st.sampled_from(["  keep my spaces  ", "x" * 10_000])),
        texts(10_000),
    ),
    "sentiment": (st.sampled_from(Sentiment.values), choices(Sentiment.values)),
    "reach": (st.integers(0, 10**15), counts(10**15)),
    "published_at": (valid_moments, moments()),
    "incident": (st.integers(1, 2**62), counts(2**62)),
    "dedup_key": (st.one_of(padded, st.just("")), texts(255)),
    "category": (st.sampled_from(Category.values), choices(Category.values)),
    "surprise": (st.nothing(), st.just("an unknown field")),
}


@st.composite
def items(draw):
    # Mostly well-formed items (so that the fast path is exercised: about a third are
    # accepted by it), a broken value in one field of twenty, a required field missing
    # now and then.
    names = ["external_id", "platform", "sentiment", "published_at"]
    names = [n for n in names if draw(st.integers(0, 29))]
    names += draw(st.lists(st.sampled_from(sorted(set(FIELDS) - set(names))), unique=True, max_size=6))
    item = {}
    for name in names:
        good, any_value = FIELDS[name]
        item[name] = draw(any_value if name == "surprise" or not draw(st.integers(0, 19)) else good)
    return item


def answer(*items):
    """What `validate_mention_batch` makes of the items at NOW: their data, or the 400's detail."""
    with time_machine.travel(NOW, tick=False):
        try:
            return validate_mention_batch(list(items))
        except ValidationError as error:
            return error.detail


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=items())
def test_any_item_is_data_or_a_400_naming_its_fields(item):
    result = answer(item)
    if isinstance(result, list):
        (data,) = result
        assert {"external_id", "platform", "sentiment", "published_at"} <= data.keys() <= FIELDS.keys()
        assert data["external_id"] and data["external_id"] == data["external_id"].strip()
        assert len(data["text"]) <= MENTION_TEXT_MAX and "\x00" not in data["text"]
        assert EARLIEST_REPORTED_AT <= data["published_at"] <= NOW
        return
    assert list(result) == [0]
    for field, messages in result[0].items():
        assert field in FIELDS or field == "non_field_errors", field
        assert messages and all(isinstance(message, str) and message for message in messages)


def plain_item(i=1, **extra):
    return {
        "external_id": f"post-{i}",
        "platform": "vk",
        "url": f"https://vk.com/wall-1_{i}",
        "author": "user",
        "author_followers": 150,
        "text": "Third time my order is late.",
        "sentiment": "negative",
        "reach": 500,
        "published_at": "2026-11-21T11:58:00+03:00",
        **extra,
    }


def test_what_monitoring_tools_send_is_accepted_and_normalised():
    minimal = {
        "external_id": " x ",
        "platform": "telegram",
        "sentiment": "neutral",
        "published_at": "2026-11-21T11:00:00.5Z",
    }
    full = plain_item(brand="acme", category="fake_news", dedup_key="storm", incident=42, text="  keep  ")
    assert answer(minimal, full) == [
        {
            "external_id": "x",
            "platform": "telegram",
            "sentiment": "neutral",
            "published_at": datetime(2026, 11, 21, 11, 0, 0, 500000, tzinfo=UTC),
            "url": "",
            "author": "",
            "author_followers": 0,
            "text": "",
            "reach": 0,
        },
        {
            **full,
            "text": "  keep  ",  # free text keeps its spaces
            "published_at": datetime(2026, 11, 21, 8, 58, tzinfo=UTC),
        },
    ]
    (item,) = answer(plain_item(published_at="2026-11-21T15:00:29+03:00"))
    assert item["published_at"] == NOW  # a reporter's clock a little ahead: taken as now
    assert item["published_at"].utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("external_id", "", "This field may not be blank."),
        ("external_id", "   ", "This field may not be blank."),
        ("external_id", "a" * 256, "Ensure this field has no more than 255 characters."),
        ("author", "a" * 256, "Ensure this field has no more than 255 characters."),
        ("text", "x" * 10_001, "Ensure this field has no more than 10000 characters."),
        ("url", "vk.com/x", "Enter a valid URL."),
        ("url", "javascript:alert(1)", "Enter a valid URL."),
        ("url", "https://vk.com/" + "a" * 1990, "Ensure this field has no more than 2000 characters."),
        ("platform", "VK", '"VK" is not a valid choice.'),
        ("sentiment", "furious", '"furious" is not a valid choice.'),
        ("sentiment", None, "This field may not be null."),
        ("category", "", '"" is not a valid choice.'),
        ("author_followers", True, "A valid integer is required."),
        ("author_followers", 10**12 + 1, "Ensure this value is less than or equal to 1000000000000."),
        ("reach", -1, "Ensure this value is greater than or equal to 0."),
        ("reach", 2.5, "A valid integer is required."),
        ("incident", 0, "Ensure this value is greater than or equal to 1."),
        ("brand", "acme!", 'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'),
        ("brand", "a" * 51, "Ensure this field has no more than 50 characters."),
        ("published_at", "2026-11-21T12:00:31Z", "Must not be in the future."),
        ("published_at", "2026-11-21T15:00:31+03:00", "Must not be in the future."),
        ("published_at", "1999-12-31T23:59:59Z", "Must not be before the year 2000."),
        ("published_at", "2026-02-30T10:00:00Z", "Datetime has wrong format."),
        ("published_at", 1763726400, "Datetime has wrong format."),
        ("surprise", "an unknown field", "Unknown field."),
        # What DRF's fields call "invalid", each in its own words.
        ("external_id", ["a list"], "Not a valid string."),
        ("external_id", True, "Not a valid string."),
        ("brand", False, 'Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'),
        ("url", 42.5, "Enter a valid URL."),
        ("url", {"href": "x"}, "Enter a valid URL."),
        ("reach", "1" * 1001, "String value too large."),
        ("reach", "1e3", "A valid integer is required."),
        ("platform", True, '"True" is not a valid choice.'),
        ("published_at", "9999-12-31T23:59:59-14:00", "Datetime value out of range."),
        ("published_at", None, "This field may not be null."),
    ],
)
def test_each_broken_value_is_named_with_its_message(field, value, message):
    detail = answer(plain_item(), plain_item(2, **{field: value}))
    assert list(detail) == [1]  # only the broken item is named, by its index
    assert list(detail[1]) == [field]
    assert detail[1][field][0].startswith(message), detail


def test_the_leniences_of_drf_fields_are_kept():
    # Listening tools send numeric post ids and counts as text; naive times are taken in
    # the current zone (UTC here); whitespace around identifiers is not part of them.
    (item,) = answer(
        plain_item(external_id=12345, reach="12", author_followers=" 7 ", incident=3.0, brand=" acme\n"),
        plain_item(2, published_at="2026-11-21T11:59:00", reach="40.00"),
    )[:1]
    assert (item["external_id"], item["reach"], item["author_followers"], item["incident"]) == (
        "12345",
        12,
        7,
        3,
    )
    assert item["brand"] == "acme"
    second = answer(plain_item(2, published_at="2026-11-21T11:59:00", reach="40.00"))[0]
    assert second["published_at"] == datetime(2026, 11, 21, 11, 59, tzinfo=UTC) and second["reach"] == 40


def test_unknown_fields_are_named_once_the_known_ones_are_sound():
    # As DRF's serializers do: a broken value first; the unknown names after it is fixed.
    assert answer(plain_item(reach=-1, surprise=1)) == {
        0: {"reach": ["Ensure this value is greater than or equal to 0."]}
    }
    many = {f"extra_{n:02}": n for n in range(25)}
    detail = answer(plain_item(**many, **{"x" * 150: 1}))
    assert len(detail[0]) == 20 and all(len(name) <= 100 for name in detail[0])


def test_messages_are_drf_s_own_and_translated():
    from django.utils import translation

    with translation.override("ru"):
        detail = answer({"platform": "vk", "sentiment": None, "reach": -1, "published_at": "soon"})
    assert detail == {
        0: {
            "external_id": ["Обязательное поле."],
            "sentiment": ["Это поле не может быть пустым."],
            "reach": ["Убедитесь, что это значение больше либо равно 0."],
            "published_at": [detail[0]["published_at"][0]],
        }
    }
    assert detail[0]["published_at"][0].startswith("Неправильный формат datetime")


@pytest.mark.parametrize("field", ["external_id", "dedup_key", "url", "brand", "platform", "sentiment"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nul\x00", "Null characters are not allowed."),
        ("lone \ud800 surrogate", "Surrogate characters are not allowed: U+D800."),
    ],
)
def test_unsafe_text_in_what_names_things_is_a_message_not_a_500(field, value, message):
    detail = answer(plain_item(**{field: value}))
    assert list(detail) == [0] and list(detail[0]) == [field]
    assert message in detail[0][field], detail


@pytest.mark.parametrize("field", ["author", "text"])
def test_free_text_keeps_a_broken_emoji_as_a_replacement_and_drops_nul(field):
    (item,) = answer(plain_item(**{field: "so\x00 angry \ud83d"}))
    assert item[field] == "so angry \ufffd"


def test_required_fields_and_the_batch_shape():
    assert answer({"platform": "vk"}) == {
        0: {name: ["This field is required."] for name in ("external_id", "sentiment", "published_at")}
    }
    assert answer(plain_item(), "not an item") == {
        1: {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}
    }
    assert answer(*[plain_item(i) for i in range(1001)]) == {
        "non_field_errors": ["Ensure this field has no more than 1000 elements."]
    }
    assert len(answer(*[plain_item(i) for i in range(1000)])) == 1000
