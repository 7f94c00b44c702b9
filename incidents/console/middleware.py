"""
The console speaks to the person looking at it: times in their zone, pages in their language.

For every console page a signed-in person opens, `ViewerMiddleware` reads their settings
(`crisis.selectors.viewer_settings`, one query that also brings their roles) and
activates the time zone Django's `|date` and our `|moment` convert to:

- their own zone (`/api/v1/me/`, the "My notifications" page), if they chose one;
- else, on one brand's page (an incident, a brand's settings or dashboard), that
  brand's zone: such a view calls `show_brand_times(request, brand)`;
- else, on a page across brands (the queue), the zone all their brands share;
- else UTC.

The language they chose applies unless this browser picked one in the header (the
`django_language` cookie, which wins). The API is left alone: it answers in UTC.
"""

from django.conf import settings
from django.utils import timezone, translation

from crisis import timezones
from crisis.selectors import viewer_settings


class ViewerMiddleware:
    """Activate the viewer's time zone (and chosen language) for the console's views."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            # A thread serves the next request with whatever is active: leave nothing behind.
            timezone.deactivate()

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        user = getattr(request, "user", None)
        if match is None or match.app_name != "console" or user is None or not user.is_authenticated:
            return None
        request.viewer = viewer = viewer_settings(user)
        timezone.activate(timezones.zone(viewer.zone_name()))
        if viewer.language and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
            translation.activate(viewer.language)
            request.LANGUAGE_CODE = viewer.language
        return None


def show_brand_times(request, brand) -> None:
    """On one brand's page: times in the brand's zone, unless the viewer chose a zone of their own."""
    viewer = getattr(request, "viewer", None)
    if viewer is not None:
        timezone.activate(timezones.zone(viewer.zone_name(brand)))
