"""Django's own 400, 404 and 500 answers: JSON under /api/ (clients parse it), Django's pages elsewhere."""

from django.http import JsonResponse
from django.views import defaults


def _api_error(request, status, detail, code, default_view, **kwargs):
    """JSON for API paths (clients parse it); Django's own pages elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": detail, "code": code}, status=status)
    return default_view(request, **kwargs)


def not_found(request, exception=None):
    return _api_error(request, 404, "Not found.", "not_found", defaults.page_not_found, exception=exception)


def server_error(request):
    return _api_error(
        request, 500, "Internal error; it has been logged.", "server_error", defaults.server_error
    )


def bad_request(request, exception=None):
    return _api_error(request, 400, "Bad request.", "bad_request", defaults.bad_request, exception=exception)
