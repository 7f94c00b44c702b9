"""
Who is sending: one of the brand's integration keys, in whichever form the tool can give it.

- `Authorization: Api-Key <key>` (and `Bearer <key>`, the scheme Grafana's webhook
  contact point fills in unless told otherwise);
- HTTP Basic with the key as the password (tools that only take `https://user:key@host/…`
  URLs, such as YouScan; the user name is ignored);
- the key as the last path segment, `…/youscan/<key>/`, for tools that can set nothing else.

A key in a path must never be written to a log or an error report. Django logs every
4xx and 5xx with `request.path`, gunicorn's access log prints `RAW_URI`, and an error
report lists `request.META`. So `KeyInPathMiddleware`, first in the chain, takes the key
out of all of them before anything else sees the request, and routes the request to the
key-less URL of the same adapter; the key travels on as an attribute of the request.

PagerDuty's senders carry the key in the body as a routing key; `pagerduty.py` resolves
it with `crisis.models.BrandKey.from_routing_key`.
"""

import base64
import binascii
import re

from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from api.text import is_unsafe
from crisis.models import BrandKey

# The adapters that take a key in their path (PagerDuty's carries it in the body).
PATH_KEY_TOOLS = ("youscan", "meltwater", "alertmanager", "grafana")
_KEY_IN_PATH = re.compile(
    r"^(?P<base>/api/v1/integrations/(?:" + "|".join(PATH_KEY_TOOLS) + r")/)(?P<key>[^/]+)/?$"
)
# What logs and reports show instead of the key.
PATH_KEY_MARK = "{key}"


class KeyInPathMiddleware:
    """
    `/api/v1/integrations/<tool>/<key>/` → the adapter at `…/<tool>/`, with the key taken
    out of every place the path is logged or reported (`request.path`, `PATH_INFO`,
    `RAW_URI`, `REQUEST_URI`). Must come first in MIDDLEWARE: a middleware that answers
    early (the body limit's 413) is logged with the path as it stands then.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        match = _KEY_IN_PATH.match(request.path_info)
        if match is not None:
            request.integration_path_key = match["key"]
            shown = f"{match['base']}{PATH_KEY_MARK}/"
            script = request.META.get("SCRIPT_NAME", "")
            request.path_info = match["base"]
            request.path = f"{script}{shown}"
            query = request.META.get("QUERY_STRING", "")
            request.META["PATH_INFO"] = shown
            for name in ("RAW_URI", "REQUEST_URI"):
                if name in request.META:
                    request.META[name] = f"{script}{shown}" + (f"?{query}" if query else "")
        return self.get_response(request)


class AdapterKeyAuthentication(BaseAuthentication):
    """
    A brand's integration key in any form API.md lists for the adapters; the request's
    user stays anonymous and `request.auth` is the `BrandKey`, as with `Api-Key`.

    A key in the path wins over a header (it is what was pasted into the tool). No key at
    all is a 401 with a Basic challenge, so that clients that send credentials from a
    URL only when challenged do send them.
    """

    def authenticate(self, request):
        plain = getattr(request._request, "integration_path_key", None)
        if plain is None:  # reached the `{key}/` route itself: KeyInPathMiddleware is not installed
            plain = (request.parser_context or {}).get("kwargs", {}).get("key")
        if plain is None:
            plain = _key_from_header(get_authorization_header(request))
        if plain is None:
            return None
        # Whatever a sender (or a scanner) puts in a path reaches the database as the prefix.
        if is_unsafe(plain) or len(plain) > 200:
            raise exceptions.AuthenticationFailed(_("Invalid integration key."))
        key = BrandKey.from_plain(plain)
        if key is None:
            raise exceptions.AuthenticationFailed(_("Invalid integration key."))
        return AnonymousUser(), key

    def authenticate_header(self, request):
        return 'Basic realm="Crisis Desk integrations", charset="UTF-8"'


def _key_from_header(header: bytes) -> str | None:
    scheme, _space, credentials = header.strip().partition(b" ")
    scheme, credentials = scheme.lower(), credentials.strip()
    if not scheme:
        return None
    if scheme in (b"api-key", b"bearer"):
        text = credentials
    elif scheme == b"basic":
        try:
            decoded = base64.b64decode(credentials, validate=True)
        except (binascii.Error, ValueError):
            raise exceptions.AuthenticationFailed(_("Invalid Basic credentials.")) from None
        text = decoded.partition(b":")[2]  # user:password; the password is the key
    else:
        raise exceptions.AuthenticationFailed(
            _("Give the integration key as Api-Key, as the password of HTTP Basic, or in the path.")
        )
    try:
        plain = text.decode("ascii")
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed(_("Invalid integration key.")) from None
    if not plain:
        raise exceptions.AuthenticationFailed(_("Invalid integration key."))
    return plain


class AdapterKeyScheme(OpenApiAuthenticationExtension):
    target_class = AdapterKeyAuthentication
    name = "adapterKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "The integration key as the Basic password, as `Api-Key <key>`, "
            "or as the last path segment (`…/{key}/`).",
        }
