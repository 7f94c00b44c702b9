"""
Request parsers of the API: JSON only.

The API takes JSON and nothing else (no form or multipart parsers: a multipart file would
be spooled to disk past the body limit); the integration adapters declare their own
parsers and limits.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from .text import is_unsafe


class JSONParser(parsers.JSONParser):
    """
    DRF's JSON parser, with pathologically nested documents a 400 instead of a RecursionError,
    and object keys holding NUL or a lone surrogate a 400 (they name fields, placeholders,
    channels: identifiers, never free text) whose message does not echo them.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            document = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON parse error - nested too deeply.")) from None
        if _has_unsafe_key(document):
            raise ParseError(_("JSON parse error - an object key holds NUL or a lone surrogate."))
        return document


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
