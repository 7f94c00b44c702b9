"""
Time zones people and brands choose: IANA names, as the `zoneinfo` database knows them.

The database is the system's, or the `tzdata` package where the system has none
(slim containers). A brand has a zone (default UTC); a person may choose one, else the
console shows them their brand's (`incidents.console.middleware`).
"""

from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

DEFAULT = "UTC"

# Names zoneinfo lists that are no place's zone: the host's own setting, a placeholder.
_NOT_ZONES = {"localtime", "Factory", "posixrules", "posix/Factory", "right/Factory"}

INVALID = _("Not a known time zone: use an IANA name such as Europe/Moscow or UTC.")


@lru_cache(maxsize=1)
def names() -> frozenset[str]:
    """Every zone name accepted (canonical names and their old aliases: US/Eastern, Europe/Kiev)."""
    return frozenset(
        n for n in available_timezones() if n not in _NOT_ZONES and not n.startswith(("posix/", "right/"))
    )


def validate_time_zone(value: str) -> None:
    """Django validator: `value` must be a zone name (`names()`)."""
    if value not in names():
        raise ValidationError(INVALID, code="invalid_time_zone")


def zone(name: str | None) -> ZoneInfo:
    """The zone named `name`; UTC for an empty or unknown name (a row written before a zone was retired)."""
    return ZoneInfo(name) if name in names() else ZoneInfo(DEFAULT)


# The regions of the zone database, as people read them (the places keep their IANA spelling).
REGIONS = {
    "Africa": _("Africa"),
    "America": _("America"),
    "Antarctica": _("Antarctica"),
    "Arctic": _("Arctic"),
    "Asia": _("Asia"),
    "Atlantic": _("Atlantic"),
    "Australia": _("Australia"),
    "Europe": _("Europe"),
    "Indian": _("Indian Ocean"),
    "Pacific": _("Pacific"),
}


def grouped_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """
    Zones for a select, grouped by region: [("UTC", [("UTC", "UTC")]), ("Europe", [("Europe/Moscow",
    "Moscow"), …]), …]. Old aliases ("GB", "US/Eastern", "Etc/GMT+3") are accepted but not offered.
    """
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in sorted(names()):
        region, _slash, place = name.partition("/")
        if region in REGIONS and place:
            groups.setdefault(region, []).append((name, place.replace("_", " ")))
    return [(DEFAULT, [(DEFAULT, DEFAULT)]), *((str(REGIONS[r]), places) for r, places in groups.items())]
