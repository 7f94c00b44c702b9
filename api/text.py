"""
Text hygiene (API.md, "Conventions"): NUL and lone UTF-16 surrogates.

A lone surrogate cannot be encoded as UTF-8 (an answer echoing one cannot be sent) and
PostgreSQL refuses NUL in text. So both are refused in what names things — identifiers,
choices, slugs, keys, usernames, field names, query strings — and in free text (titles,
descriptions, mention text, author names, comments) a lone surrogate becomes U+FFFD and
NUL is dropped, so that one broken emoji never loses a batch.

Where each half lives: `api.serializers.FreeText` cleans free text; DRF's CharField already
refuses both (its ProhibitNull/SurrogateCharacters validators) and `StrictInput` refuses
them in its other fields (choices, custom fields); `api.parsers.JSONParser` refuses them in
object keys; `api.middleware.QueryStringHygieneMiddleware` in query strings; the exception
handler never echoes them back; the console's forms use `incidents.forms.FreeTextField`.
"""

import re

# A surrogate in a Python str is always a lone one: a valid pair decodes to one code point.
_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def free_text(value: str) -> str:
    """Free text as the desk keeps it: lone surrogates become U+FFFD, NUL is dropped."""
    if value.isascii():
        return value.replace("\x00", "") if "\x00" in value else value
    return _SURROGATE.sub(REPLACEMENT, value).replace("\x00", "")


def is_unsafe(value: str) -> bool:
    """Whether an identifier holds NUL or a lone surrogate (and must be refused)."""
    return "\x00" in value or (not value.isascii() and _SURROGATE.search(value) is not None)
