"""
Request-wide checks that run before any view: the API's own (empty and unknown query
parameters), and the body limit and query-string hygiene that every page shares.
"""

import io

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from rest_framework.settings import api_settings

from .text import free_text, is_unsafe


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


class RequestBodyLimitMiddleware:
    """
    No request body beyond DATA_UPLOAD_MAX_MEMORY_SIZE is read, whatever its type: 413.

    Django checks the limit only where it reads a body itself, and never for multipart
    file parts; DRF reads the stream directly. So a declared Content-Length above the limit
    is refused unread, and a chunked body (no Content-Length; gunicorn de-chunks it and
    marks `wsgi.input_terminated`) is read up to the limit and refused past it. The rest of
    such a body is never read: gunicorn closes the connection after the answer instead of
    promising keep-alive (`pre_request` in config/gunicorn.py).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is None:
            return self.get_response(request)
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared.isdigit() and int(declared) > limit:
            return too_large(request)
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not declared and chunked and request.environ.get("wsgi.input_terminated"):
            body = request.environ["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                return too_large(request)
            # Django sized the stream from the absent Content-Length (nothing to read):
            # hand it the body it now has, as HttpRequest.body does once it has read one.
            request.META["CONTENT_LENGTH"] = str(len(body))
            request._stream = LimitedStream(io.BytesIO(body), len(body))
        return self.get_response(request)


def too_large(request) -> HttpResponse:
    detail = str(_("The request body is larger than %(limit)d bytes.")) % {
        "limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    }
    if _is_api(request):
        return JsonResponse({"detail": detail, "code": "too_large"}, status=413)
    return HttpResponse(detail, status=413, content_type="text/plain; charset=utf-8")


class QueryStringHygieneMiddleware:
    """
    NUL in a query string is a 400 on the API and in the admin (its changelist filters and
    search), before a filter hands it to the database (API.md, "Conventions").

    The console's queue reads its query string through its filter form, which refuses NUL
    itself and names the dropped filter on the page. A lone surrogate cannot arrive here:
    Django decodes the query string's bytes with replacement. The answer names the
    parameters without echoing what they held.
    """

    paths = ("/api/", "/admin/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(self.paths):
            return self.get_response(request)
        refused = sorted(
            {name for name, values in request.GET.lists() if is_unsafe(name) or any(map(is_unsafe, values))}
        )
        if not refused:
            return self.get_response(request)
        message = str(_("Null characters are not allowed."))
        if _is_api(request):
            return JsonResponse({free_text(name)[:100]: [message] for name in refused[:20]}, status=400)
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


class EmptyQueryParameterMiddleware:
    """
    `?severity=` on the API is a 400, not a silently ignored filter.

    An empty value is almost always a client bug (an unset variable in a URL
    template); answering as if it were absent would return every incident.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in ("GET", "HEAD") and request.path.startswith("/api/v1/"):
            empty = sorted({name for name, value in request.GET.items() if value == ""})
            if empty:
                return JsonResponse(
                    {name[:100]: [str(_("May not be empty."))] for name in empty[:20]}, status=400
                )
        return self.get_response(request)


class UnknownQueryParameterMiddleware:
    """
    `?severty=critical` on the API is a 400, as an unknown body field is, not a list of everything.

    The view says what it accepts (`query_parameters_of`), so the check cannot drift from
    the views. Integration adapters are exempt: the senders' shapes rule there (API.md).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        path = request.path
        if not path.startswith("/api/v1/") or path.startswith("/api/v1/integrations/") or not request.GET:
            return None
        accepted = query_parameters_of(view_func)
        if accepted is None:
            return None
        unknown = sorted(set(request.GET) - accepted)
        if not unknown:
            return None
        return JsonResponse(
            {name[:100]: [str(_("Unknown query parameter."))] for name in unknown[:20]}, status=400
        )


def query_parameters_of(view_func) -> frozenset[str] | None:
    """
    The query parameters a DRF view accepts (None: any, or not a DRF view).

    `format`; pagination's when it paginates; its filterset's filters (or `filterset_fields`);
    the ordering and search parameters of its filter backends; and `query_parameters`, the
    ones the view reads itself, declared as data on the class or in `@action(...)`, where
    `query_parameters = None` accepts anything. An `@action`'s own settings win over the class's.
    """
    cls = getattr(view_func, "cls", None)
    if cls is None:
        return None
    initkwargs = getattr(view_func, "initkwargs", None) or {}

    def setting(name, default=None):
        return initkwargs[name] if name in initkwargs else getattr(cls, name, default)

    declared = setting("query_parameters", ())
    if declared is None:
        return None
    names = {api_settings.URL_FORMAT_OVERRIDE, *declared}
    pagination = setting("pagination_class")
    if pagination is not None:
        names |= {
            getattr(pagination, "page_query_param", None),
            getattr(pagination, "page_size_query_param", None),
        }
    filterset = setting("filterset_class")
    if filterset is not None:
        names |= set(filterset.base_filters)
    else:
        fields = setting("filterset_fields") or ()
        if isinstance(fields, dict):
            names |= {
                name if lookup == "exact" else f"{name}__{lookup}"
                for name, lookups in fields.items()
                for lookup in lookups
            }
        else:
            names |= set(fields)
    for backend in setting("filter_backends") or ():
        names |= {getattr(backend, "ordering_param", None), getattr(backend, "search_param", None)}
    return frozenset(names - {None})
