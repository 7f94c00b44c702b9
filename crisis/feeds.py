"""
Calendar feeds of on-call shifts (API.md, "Calendar feeds"): iCalendar (RFC 5545) built
with the `icalendar` library, for Google, Apple and Outlook calendars to subscribe to.

Calendar apps cannot sign in, so a feed URL carries the person's feed token
(`?token=`, `crisis.oncall.calendar_token_issue`). A token in a query string would be
written to gunicorn's access log and to error reports; `CalendarTokenMiddleware`, near
the start of the chain, masks it there before anything can log it.

A feed holds the shifts from `PAST` before today (UTC) to `AHEAD` after it, overrides
applied; each shift is one event, its UID stable across refreshes so that calendars
update events instead of duplicating them.
"""

import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from . import oncall, shifts, timezones
from .models import Profile

PAST = timedelta(days=14)
AHEAD = timedelta(days=90)
REFRESH = timedelta(hours=1)  # how often a calendar app should fetch the feed again
PRODID = "-//Crisis Desk//On-call shifts//EN"
FEED_PATH = re.compile(r"^/api/v1/(?:me|schedules/[0-9]{1,18})/calendar\.ics$")
TOKEN_MARK = "{token}"  # noqa: S105 - what logs show instead of the token
_TOKEN_PARAMETER = re.compile(r"(?<=[?&;]token=)[^&;#]*|(?<=^token=)[^&;#]*")


class CalendarTokenMiddleware:
    """
    On a feed's path, the token's value becomes `{token}` in every place the request line
    is logged or reported (`RAW_URI`, `REQUEST_URI`: gunicorn's access log;
    `QUERY_STRING`: error reports). The view reads it from `request.calendar_token`.
    Must come before any middleware that may answer (and so be logged) on its own.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if FEED_PATH.match(request.path_info):
            request.calendar_token = request.GET.get("token")  # parsed (and cached) before masking
            for name in ("RAW_URI", "REQUEST_URI", "QUERY_STRING"):
                if name in request.META:
                    request.META[name] = _TOKEN_PARAMETER.sub(TOKEN_MARK, request.META[name])
        return self.get_response(request)


def window(now: datetime) -> tuple[datetime, datetime]:
    """The period a feed covers; it starts at a UTC midnight, so the first event changes only daily."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - PAST, today + AHEAD


def _language(user) -> str:
    profile = Profile.objects.filter(user=user).first()
    return (profile.language if profile else "") or settings.LANGUAGE_CODE


def _calendar(name: str, now: datetime) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", REFRESH)
    return calendar


def _event(schedule, shift: shifts.Shift, summary: str, now: datetime) -> Event:
    event = Event()
    source = f"o{shift.override}" if shift.layer is None else f"l{shift.layer}"
    event.add("uid", f"shift-{schedule.pk}-{source}-{shift.user}-{shift.start:%Y%m%dT%H%M%SZ}@crisis-desk")
    event.add("dtstamp", now)
    event.add("dtstart", shift.start)
    event.add("dtend", shift.end)
    event.add("summary", summary)
    zone = timezones.zone(schedule.time_zone)
    layer = (
        _("override")
        if shift.layer is None
        else _("layer %(n)d of %(schedule)s") % {"n": shift.layer, "schedule": schedule.name}
    )
    event.add(
        "description",
        _("%(user)s is on call (%(brand)s, %(layer)s; times in %(zone)s: %(start)s – %(end)s).")
        % {
            "user": shift.user,
            "brand": schedule.brand.name,
            "layer": layer,
            "zone": schedule.time_zone,
            "start": shift.start.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            "end": shift.end.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        },
    )
    event.add("transp", "TRANSPARENT")  # on call is not busy: it must not block meetings
    if shift.override is not None:
        event.add("categories", ["override"])
    return event


def schedule_feed(schedule, *, owner, now: datetime | None = None) -> bytes:
    """Everyone's shifts on one schedule (read `with_rows`), for a member of its brand."""
    now = now or timezone.now()
    since, until = window(now)
    with translation.override(_language(owner)):
        calendar = _calendar(_("On call: %(schedule)s") % {"schedule": schedule.name}, now)
        for shift in shifts.final_shifts(oncall.plan_of(schedule), since, until):
            calendar.add_component(_event(schedule, shift, _summary(shift.user, shift), now))
    return calendar.to_ical()


def personal_feed(owner, schedules, *, now: datetime | None = None) -> bytes:
    """`owner`'s own shifts on each of `schedules` (their brands', read `with_rows`)."""
    now = now or timezone.now()
    since, until = window(now)
    username = owner.get_username()
    with translation.override(_language(owner)):
        calendar = _calendar(_("My on-call shifts (%(user)s)") % {"user": username}, now)
        for schedule in schedules:
            for shift in shifts.final_shifts(oncall.plan_of(schedule), since, until):
                if shift.user == username:
                    summary = _("On call: %(schedule)s, %(brand)s") % {
                        "schedule": schedule.name,
                        "brand": schedule.brand.name,
                    }
                    if shift.override is not None:
                        summary += " " + _("(override)")
                    calendar.add_component(_event(schedule, shift, summary, now))
    return calendar.to_ical()


def _summary(user: str, shift: shifts.Shift) -> str:
    said = _("%(user)s on call") % {"user": user}
    return f"{said} {_('(override)')}" if shift.override is not None else said
