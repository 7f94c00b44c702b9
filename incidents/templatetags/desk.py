"""
Template helpers of the console: `moment` for a time, `duration` for a span of time.

Every time on a console page goes through `moment`: shown in the time zone active for
the request (the viewer's: `incidents.console.middleware`), labelled with that zone's
abbreviation, with the UTC instant in the `datetime` attribute and on hover. Every
span of time goes through `duration`: "4 min 12 s", "2 h 5 min", "3 d 4 h".

    {% load desk %}
    {{ incident.detected_at|moment }}            2026-11-30 03:24 MSK
    {{ event.at|moment:"H:i:s" }}                03:24:07 MSK (any Django date format)
    {{ total.mtta_seconds|duration }}            4 min 12 s
"""

import json
import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.translation import npgettext

register = template.Library()

# What a missing time or duration shows.
NOTHING = "—"

# The default form of `moment`: date and time to the minute.
MOMENT_FORMAT = "Y-m-d H:i"


def _aware(value: datetime) -> datetime:
    # Times the desk stores are aware; a naive one (from a fixture, a hand-made dict) is UTC.
    return timezone.make_aware(value, UTC) if timezone.is_naive(value) else value


def local_text(value, fmt: str = MOMENT_FORMAT) -> str:
    """`value` in the active time zone as plain text, with the zone's abbreviation: "2026-11-30 03:24 MSK"."""
    if value is None or value == "":
        return NOTHING
    if not isinstance(value, datetime):
        # A date (a follow-up's due date) has no time of day, so no zone either.
        return date_format(value, fmt.split(" ")[0]) if isinstance(value, date) else str(value)
    local = timezone.localtime(_aware(value))
    return f"{date_format(local, fmt)} {local.tzname()}"


@register.filter
def moment(value, fmt: str = MOMENT_FORMAT):
    """
    A time for a person: `<time datetime="…Z" title="… UTC">` around the local text.

    `fmt` is a Django date format ("H:i", "Y-m-d H:i:s"); the zone's abbreviation follows it.
    """
    if not isinstance(value, datetime):
        return local_text(value, fmt)
    utc = _aware(value).astimezone(UTC)
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>',
        utc.isoformat().replace("+00:00", "Z"),
        utc.strftime("%Y-%m-%d %H:%M:%S"),
        local_text(value, fmt),
    )


@register.filter
def moment_text(value, fmt: str = MOMENT_FORMAT) -> str:
    """`moment` as plain text, for an attribute (a timeline bar's title)."""
    return local_text(value, fmt)


# The units of `duration`, largest first: (seconds in one, the text of `count` of them).
# npgettext, so that a language whose units change with the number gets its forms.
def _days(count: int) -> str:
    return npgettext("duration", "%(count)d d", "%(count)d d", count) % {"count": count}


def _hours(count: int) -> str:
    return npgettext("duration", "%(count)d h", "%(count)d h", count) % {"count": count}


def _minutes(count: int) -> str:
    return npgettext("duration", "%(count)d min", "%(count)d min", count) % {"count": count}


def _seconds(count: int) -> str:
    return npgettext("duration", "%(count)d s", "%(count)d s", count) % {"count": count}


UNITS = ((86400, _days), (3600, _hours), (60, _minutes), (1, _seconds))


def seconds_of(value) -> float | None:
    """Seconds in `value` (a number, a numeric string or a timedelta); None when it holds none."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) else None


@register.filter
def duration(value) -> str:
    """
    A span of time as people say it, in its two largest units: "4 min 12 s", "2 h 5 min", "3 d 4 h".

    Seconds (int, float, Decimal, numeric string) or a timedelta; rounded to the second;
    a negative span gets a minus sign; anything else (None, "abc") shows as "—".
    """
    seconds = seconds_of(value)
    if seconds is None:
        return NOTHING
    whole = round(abs(Decimal(str(seconds))))
    parts = []
    for size, text in UNITS:
        count, whole = divmod(whole, size)
        if count or parts:
            parts.append((count, text))
        if len(parts) == 2:
            break
    # "2 h", not "2 h 0 min": a zero second unit says nothing.
    shown = [text(int(count)) for i, (count, text) in enumerate(parts) if count or i == 0] or [_seconds(0)]
    sign = "−" if seconds < 0 and shown != [_seconds(0)] else ""
    return sign + " ".join(shown)


@register.filter
def percent(value) -> str:
    """A ratio (0.4286) as a whole percentage, "43%"; None shows as "—"."""
    if value is None or value == "" or isinstance(value, bool):
        return NOTHING
    try:
        ratio = float(value)
    except (TypeError, ValueError):
        return NOTHING
    if not math.isfinite(ratio):
        return NOTHING
    return f"{round(ratio * 100)}%"


@register.simple_tag
def duration_units() -> str:
    """
    The units of `duration` for the browser's countdowns, as JSON: per unit, its text
    for 1, 2 and 5 (enough for English's and Russian's plural forms; console.js picks
    one with Intl.PluralRules).
    """
    return json.dumps(
        {
            name: [text(n).replace(str(n), "{n}", 1) for n in (1, 2, 5)]
            for name, text in (("d", _days), ("h", _hours), ("min", _minutes), ("s", _seconds))
        },
        ensure_ascii=False,
    )


@register.simple_tag
def time_zone_choices(current: str = ""):
    """
    The zones a person or a brand may pick, grouped by region, for a select:
    `{% time_zone_choices brand.time_zone as zones %}`. A `current` zone that is not offered
    (an old alias set through the API, US/Eastern) comes first, so that saving keeps it.
    """
    from crisis.timezones import grouped_choices

    zones = grouped_choices()
    offered = {name for _region, places in zones for name, _label in places}
    return zones if not current or current in offered else [(current, [(current, current)]), *zones]
