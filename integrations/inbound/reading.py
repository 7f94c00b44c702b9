"""
Reading what a tool sent: the body (each adapter with its own size limit) and the fields
we need from it, each problem a 400 that names the field as the sender spells it
(`documents[3].published_date`), never a 500.

Senders add fields without notice, so whatever is not read here is ignored. Values are
taken as the tools' documentation types them, with the leniency their quirks need: an
absent field and `null` are the same (YouScan omits nulls), ids may be numbers or
strings, times are ISO 8601 with any fraction of a second and any offset.
"""

import functools
import re
from datetime import UTC, datetime

import msgspec
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError, ValidationError

from api.parsers import loads
from api.text import free_text, is_unsafe
from crisis.serializers import EARLIEST_REPORTED_AT


class TooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def json_body(request, *, limit: int):
    """The request's body as JSON: 413 past `limit` bytes, 400 naming what does not parse."""
    return _parsed(_raw_body(request, limit))


def typed_body(request, shape: type, *, limit: int):
    """
    The request's body decoded straight into `shape`, msgspec Structs that declare the
    fields an adapter reads: the C decoder skips everything else unread, and checks each
    field's JSON type on the way (a batch of 1,000 documents: docs/benchmarks.md). Values
    are taken as the tools' documentation types them, with the same leniences as the
    functions below: null and absent alike, a whole float or a numeric string where a
    number is due. What msgspec cannot decode (a lone surrogate, `NaN`, deep nesting) is
    parsed by the standard library as `json_body` parses it, then checked against the
    same shape. A field of the wrong type is a 400 naming it as the sender spells it.
    """
    raw = _raw_body(request, limit)
    try:
        return _decoder(shape).decode(raw)
    except msgspec.ValidationError as error:
        raise _named(error) from None
    except (msgspec.DecodeError, RecursionError):
        document = _parsed(raw)
    try:
        return msgspec.convert(document, shape, strict=False)
    except msgspec.ValidationError as error:
        raise _named(error) from None


@functools.cache
def _decoder(shape: type) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(shape, strict=False)


# msgspec's account of a value of the wrong type ("Expected `int | null`, got `str` - at
# `$.documents[3].metrics.reach`"), read for the field's path and the kind it wanted.
_MSGSPEC_PROBLEM = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]*)`")


def _named(error: msgspec.ValidationError) -> ValidationError:
    """A 400 in our words for msgspec's problem, at the field's path as the sender spells it."""
    found = _MSGSPEC_PROBLEM.match(str(error))
    what, path = found["what"], (found["path"] or "").lstrip(".")
    missing = _MISSING.match(what)
    if missing:
        path = f"{path}.{missing['field']}" if path else missing["field"]
        message = _("This field is required.")
    elif what.startswith("Expected `object"):
        message = _("Expected an object.")
    elif what.startswith("Expected `array"):
        message = _("Expected a list.")
    elif what.startswith(("Expected `int | str", "Expected `str | int")):
        message = _("Expected a string or a whole number.")
    elif what.startswith("Expected `str"):
        message = _("Expected a string.")
    elif what.startswith("Expected `int") and ("<=" in what or ">=" in what):
        message = _("Expected a whole number from 0 to 10^15.")
    elif what.startswith("Expected `int"):
        message = _("Expected a whole number.")
    else:
        message = _("Invalid value.")
    return problem(path or "body", message)


def _raw_body(request, limit: int) -> bytes:
    limit = min(limit, settings.DATA_UPLOAD_MAX_MEMORY_SIZE or limit)
    raw = request.body  # Django refuses (413) more than DATA_UPLOAD_MAX_MEMORY_SIZE
    if len(raw) > limit:
        raise TooLarge(_("The request body is larger than %(limit)d bytes.") % {"limit": limit})
    if not raw.strip():
        raise ParseError(_("The request body is empty; a JSON document was expected."))
    return raw


def _parsed(raw: bytes):
    try:
        return loads(raw)
    except RecursionError:
        raise ParseError(_("JSON parse error - nested too deeply.")) from None
    except UnicodeDecodeError:
        raise ParseError(_("JSON parse error - the body is not UTF-8.")) from None
    except ValueError as error:
        raise ParseError(_("JSON parse error - %(error)s") % {"error": error}) from None


def problem(path: str, message: str) -> ValidationError:
    """The 400 for one field, named as the sender spells it."""
    return ValidationError({path: [message]})


def obj(value, path: str, *, required: bool = False) -> dict:
    """An object (`{}` when absent)."""
    if value is None:
        if required:
            raise problem(path, _("This field is required."))
        return {}
    if not isinstance(value, dict):
        raise problem(path, _("Expected an object."))
    return value


def array(value, path: str, *, required: bool = False) -> list:
    if value is None:
        if required:
            raise problem(path, _("This field is required."))
        return []
    if not isinstance(value, list):
        raise problem(path, _("Expected a list."))
    return value


def text(value, path: str, *, required: bool = False, max_length: int | None = None) -> str:
    """Free text as the desk keeps it (NUL dropped, a lone surrogate replaced); blank when absent."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise problem(path, _("Expected a string."))
    value = free_text(value)
    if required and not value.strip():
        raise problem(path, _("This field is required."))
    if max_length is not None and len(value) > max_length:
        raise problem(path, _("Ensure this field has no more than %(max)d characters.") % {"max": max_length})
    return value


def identifier(value, path: str, *, required: bool = False, max_length: int = 255) -> str:
    """An id: a string or a whole number; NUL and lone surrogates refused (they name things)."""
    if value is None or value == "":
        if required:
            raise problem(path, _("This field is required."))
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise problem(path, _("Expected a string or a whole number."))
    value = str(value)
    if is_unsafe(value):
        raise problem(path, _("Null characters are not allowed."))
    if len(value) > max_length:
        raise problem(path, _("Ensure this field has no more than %(max)d characters.") % {"max": max_length})
    return value


def count(value, path: str) -> int:
    """A whole number ≥ 0 (0 when absent); a float that is whole passes, as JSON encoders write them."""
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise problem(path, _("Expected a whole number."))
    if not 0 <= value <= 10**15:
        raise problem(path, _("Expected a whole number from 0 to 10^15."))
    return value


def instant(value, path: str, *, required: bool = False) -> datetime | None:
    """An ISO 8601 date and time (no offset: UTC); refused before the year 2000."""
    if value is None or value == "":
        if required:
            raise problem(path, _("This field is required."))
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise problem(path, _("Expected an ISO 8601 date and time."))
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise problem(path, _("Expected an ISO 8601 date and time.")) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed < EARLIEST_REPORTED_AT:
        raise problem(path, _("Must not be before the year 2000."))
    return parsed


_url = URLValidator()


def link(value) -> str:
    """A URL we can keep as a source URL, or blank: a link is never what we cannot do without."""
    if not isinstance(value, str) or not value or len(value) > 2000:
        return ""
    try:
        _url(value)
    except DjangoValidationError:
        return ""
    return value


def clean_json(value, *, depth: int = 0):
    """
    A foreign document as JSON we can store (`source_details`, timeline data): strings
    through `free_text` (PostgreSQL's jsonb refuses NUL and lone surrogates), keys too,
    nesting cut at 20 levels.
    """
    if isinstance(value, str):
        return free_text(value)
    if isinstance(value, dict):
        if depth >= 20:
            return {}
        return {free_text(str(k)): clean_json(v, depth=depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        if depth >= 20:
            return []
        return [clean_json(v, depth=depth + 1) for v in value]
    if (isinstance(value, float) and value != value) or value in (float("inf"), float("-inf")):
        return None  # NaN and infinities parse in Python, but are not JSON
    return value
