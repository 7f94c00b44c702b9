"""
Request parsers of the API: JSON only.

The API takes JSON and nothing else (no form or multipart parsers: a multipart file would
be spooled to disk past the body limit); the integration adapters declare their own
parsers and limits.
"""

import codecs
import io
import json

import msgspec
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from .text import is_unsafe

# msgspec decodes plain RFC 8259 JSON in C into the same values as the standard library
# (integers of any size stay exact). What it refuses and the standard library takes — a
# lone surrogate escape (free text keeps it as U+FFFD), `NaN`, numbers past a double —
# and what neither takes go to the standard library, so every result and every error
# message is the stdlib's (tests/api/test_parsers.py holds the two together).
_decoder = msgspec.json.Decoder()


def loads(raw: bytes):
    """A JSON document, as `json.loads` gives it, parsed in C where it can be."""
    try:
        return _decoder.decode(raw)
    except (msgspec.MsgspecError, RecursionError):  # msgspec's own depth limit: past it, as stdlib
        return json.loads(raw)


class JSONParser(parsers.JSONParser):
    """
    DRF's JSON parser, with pathologically nested documents a 400 instead of a RecursionError,
    and object keys holding NUL or a lone surrogate a 400 (they name fields, placeholders,
    channels: identifiers, never free text) whose message does not echo them.

    A UTF-8 body msgspec decodes is taken from it (see `loads`); anything else goes through
    DRF's own parser, so its messages (and its refusal of `NaN` and infinities) are unchanged.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read()
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        try:
            if codecs.lookup(encoding).name != "utf-8":
                # A body declared in another charset is decoded as declared, as DRF does.
                raise LookupError(encoding)
            document = _decoder.decode(raw)
        except (msgspec.MsgspecError, RecursionError, LookupError):
            document = self._parse_as_drf(io.BytesIO(raw), media_type, parser_context)
        if _has_unsafe_key(document):
            raise ParseError(_("JSON parse error - an object key holds NUL or a lone surrogate."))
        return document

    def _parse_as_drf(self, stream, media_type, parser_context):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON parse error - nested too deeply.")) from None


def _has_unsafe_key(document) -> bool:
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if is_unsafe(key):
                    return True
                if isinstance(value, dict | list):
                    pending.append(value)
        elif isinstance(node, list):
            pending.extend(item for item in node if isinstance(item, dict | list))
    return False
