"""
The JSON parser takes orjson's result where orjson parses a body and the standard
library's otherwise: the document, and every error, must be exactly the stdlib's.
"""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.parsers import loads

# JSON documents with the values clients really send, and the corners where parsers part:
# huge and negative-zero numbers, escapes, deep nesting.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


def same_as_stdlib(raw: bytes) -> None:
    try:
        expected = json.loads(raw)
    except ValueError as error:
        with pytest.raises(type(error)) as raised:
            loads(raw)
        assert str(raised.value) == str(error)
        return
    got = loads(raw)
    assert got == expected or (got != got and expected != expected)
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans())
def test_documents_parse_as_the_stdlib_parses_them(value, ascii_only):
    same_as_stdlib(json.dumps(value, ensure_ascii=ascii_only).encode())


@pytest.mark.parametrize(
    "raw",
    [
        b'{"text": "lone \\ud800 surrogate"}',  # orjson refuses; free text keeps it as U+FFFD later
        b'{"text": "pair \\ud83d\\ude00"}',
        b'{"reach": NaN}',
        b'{"reach": 1e400}',
        b'{"reach": 123456789012345678901234567890}',
        b'{"a": 1, "a": 2}',  # the last one wins in both
        b'{"text": "a\\u0000b"}',
        b"[1, 2",
        b"",
        b"\xef\xbb\xbf{}",  # a byte-order mark
        b"\xff\xfe",
        b'{"a": "\xff"}',
        b"[" * 5000 + b"]" * 5000,  # past msgspec's depth limit and the stdlib's
        b"[" * 900 + b"]" * 900,
        b"[" * 1100 + b"]" * 1100,  # past msgspec's depth limit
        b' \n {"spaced": true} \n ',
        b"-0",
        b"0.1e-400",
    ],
)
def test_the_corners_where_parsers_differ(raw):
    try:
        same_as_stdlib(raw)
    except RecursionError:
        with pytest.raises(RecursionError):
            loads(raw)
