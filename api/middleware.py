"""Request-wide checks of the API that run before any view."""

from django.http import JsonResponse
from django.utils.translation import gettext_lazy as _


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
