"""
The fast path of mention validation must answer exactly what `MentionInput` answers.

`validate_mention_batch` accepts plain, valid items without DRF's per-field machinery
and hands everything else to `MentionInput`. Hypothesis throws well-formed and broken
values at both; `validate_mention_batch` must give the same data, or the same errors,
as `MentionInput` for every item. A wrong shortcut (a missed strip, a length off by one, a
timezone left as sent, a future date let through) fails here.
"""

from datetime import UTC, datetime, timedelta, timezone

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from crisis.models import Category, Channel, Sentiment
from crisis.serializers import MentionInput, _plain_mention, validate_mention_batch

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


def both_answers(item):
    """What `validate_mention_batch` and `MentionInput` make of one item: data, or errors."""
    with time_machine.travel(NOW, tick=False):
        drf = MentionInput(data=item)
        drf_answer = drf.validated_data if drf.is_valid() else drf.errors
        try:
            (ours,) = validate_mention_batch([item])
        except ValidationError as error:
            ours = error.detail[0]  # errors are keyed by the item's index
    return ours, drf_answer


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=items())
def test_the_batch_accepts_only_what_drf_accepts_and_answers_the_same(item):
    assert_same(*both_answers(item))


def assert_same(ours, drf):
    # repr, not ==: aware datetimes are equal across time zones, and 1 == True. Errors
    # are compared with their codes.
    assert sorted((k, repr(v)) for k, v in ours.items()) == sorted((k, repr(v)) for k, v in drf.items())


EDGES = [
    ("external_id", " padded "),
    ("external_id", ""),
    ("external_id", "   "),
    ("external_id", "a" * 255),
    ("external_id", "a" * 256),
    ("external_id", 12),
    ("external_id", "nul\x00"),
    ("external_id", "\ud800"),
    ("author", "a" * 256),
    ("author", " a "),
    ("text", " keep "),
    ("text", "x" * 10_001),
    ("url", " https://vk.com/x "),
    ("url", "   "),
    ("url", "vk.com/x"),
    ("url", "https://vk.com/" + "a" * 1990),
    ("platform", "VK"),
    ("platform", ["vk"]),
    ("sentiment", None),
    ("category", ""),
    ("author_followers", True),
    ("author_followers", "12"),
    ("author_followers", 10**12 + 1),
    ("reach", -1),
    ("reach", 2.0),
    ("incident", 0),
    ("incident", 2**62 + 1),
    ("brand", "acme\n"),
    ("brand", "a" * 51),
    ("brand", "acme!"),
    ("brand", "Acme-1"),
    ("dedup_key", "  "),
    ("published_at", "2026-11-21T12:00:29Z"),
    ("published_at", "2026-11-21T12:00:31Z"),
    ("published_at", "2026-11-21T14:59:00+03:00"),
    ("published_at", "2026-11-21T15:00:31+03:00"),
    ("published_at", "1999-12-31T23:59:59Z"),
    ("published_at", "2000-01-01T03:00:00+03:00"),
    ("published_at", "2026-11-21T11:00:00"),
    ("published_at", "2026-11-21"),
    ("published_at", 1763726400),
    ("published_at", "2026-02-30T10:00:00Z"),
    ("published_at", "2026-11-21 11:00:00.5+00:00"),
]


@pytest.mark.parametrize(("field", "value"), EDGES)
def test_edges_agree_with_drf(field, value):
    assert_same(*both_answers({**plain_item(), field: value}))


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


@pytest.mark.parametrize(
    "item",
    [
        plain_item(),
        plain_item(published_at="2026-11-21T11:58:00Z", brand="acme", category="fake_news"),
        {
            "external_id": "x",
            "platform": "telegram",
            "sentiment": "neutral",
            "published_at": "2026-11-21T11:00:00.123456+00:00",
        },
        plain_item(dedup_key="storm", incident=42, url="", text=""),
    ],
)
def test_what_monitoring_tools_send_takes_the_fast_path(item):
    """Not a dead shortcut: the items the integrations and the benchmark send are taken."""
    with time_machine.travel(NOW, tick=False):
        assert _plain_mention(item, NOW) is not None
        assert validate_mention_batch([item]) == [dict(MentionInput(data=item).run_validation(item))]


def test_one_bad_item_sends_the_batch_to_drf_for_its_message():
    batch = [plain_item(i) for i in range(5)] + [plain_item(9, sentiment="furious")]
    with time_machine.travel(NOW, tick=False), pytest.raises(ValidationError) as error:
        validate_mention_batch(batch)
    assert error.value.detail[5]["sentiment"]
    assert set(error.value.detail) == {5}  # only the bad one is named
