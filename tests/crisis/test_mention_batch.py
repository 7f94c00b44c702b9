"""
`validate_mention_batch` reuses one built `MentionInput` per thread: it must answer exactly
what a fresh `MentionInput(many=True)` answers, for good batches and bad ones, from any thread.
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import time_machine
from rest_framework.exceptions import ValidationError

from crisis.serializers import MENTION_BATCH_MAX, MentionInput, validate_mention_batch

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def item(i, **changes):
    return {
        "external_id": f"post-{i}",
        "platform": "vk",
        "url": f"https://vk.com/wall-1_{i}",
        "author": "Ivan",
        "author_followers": i,
        "text": " Ужасный сервис ",
        "sentiment": ["negative", "neutral", "positive"][i % 3],
        "reach": 10 * i,
        "published_at": "2026-11-21T11:59:00Z",
        **changes,
    }


def fresh(batch):
    serializer = MentionInput(data=batch, many=True, max_length=MENTION_BATCH_MAX)
    return serializer.validated_data if serializer.is_valid() else serializer.errors


def reused(batch):
    try:
        return validate_mention_batch(batch)
    except ValidationError as error:
        return error.detail


BATCHES = {
    "good": [item(i) for i in range(50)],
    "empty": [],
    "one bad among good": [item(1), item(2, platform="myspace"), item(3, published_at="soon")],
    "missing fields": [{"platform": "vk"}],
    "not an item": [item(1), "not an item"],
    "unknown field": [item(1, surprise=1)],
    "too many": [item(i) for i in range(MENTION_BATCH_MAX + 1)],
}


@pytest.mark.parametrize("name", list(BATCHES))
def test_the_reused_validator_answers_as_a_fresh_one(name):
    with time_machine.travel(NOW, tick=False):
        assert reused(BATCHES[name]) == fresh(BATCHES[name])


def test_a_bad_batch_leaves_nothing_behind_for_the_next_one():
    with time_machine.travel(NOW, tick=False):
        reused(BATCHES["one bad among good"])
        assert reused(BATCHES["good"]) == fresh(BATCHES["good"])


def test_threads_validating_at_once_each_get_their_own_answer():
    batches = [[item(i * 10 + j, reach=i) for j in range(10)] for i in range(8)]
    with time_machine.travel(NOW, tick=False), ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(reused, batches * 5))
    assert [[m["reach"] for m in answer] for answer in answers] == [[i] * 10 for i in range(8)] * 5
