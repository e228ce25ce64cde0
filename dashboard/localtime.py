"""The page's one time zone (the person's, read from the data) and the local calendar day of a record."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from configuration import clock

# WHOOP's `timezone_offset` is "+hh:mm" / "-hh:mm" (docs/API_NOTES.md, WHOOP "Collections").
OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


@dataclass(frozen=True)
class PageZone:
    """The zone every time on the page is shown in, and how the page names it (once)."""

    tz: tzinfo
    name: str  # "Europe/Berlin", "UTC−05:00"
    source: str  # "withings", "whoop" or "computer"

    def label(self, now: datetime) -> str:
        """The name plus, for a named zone, its abbreviation at `now`: "Europe/Berlin (CET)"."""
        abbreviation = now.astimezone(self.tz).tzname() or ""
        if (
            isinstance(self.tz, ZoneInfo)
            and abbreviation
            and abbreviation != self.name
            and not abbreviation.startswith(("+", "-"))
        ):
            return f"{self.name} ({abbreviation})"
        return self.name


def parse_offset(text: str | None) -> timezone | None:
    """A fixed zone from WHOOP's "+01:00"; None for a missing or malformed value."""
    match = OFFSET.match((text or "").strip())
    if not match:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta >= timedelta(hours=24):
        return None
    return timezone(-delta if sign == "-" else delta)


def named_zone(name: str | None) -> ZoneInfo | None:
    """An IANA zone from Withings' `timezone`; None for a missing or unknown name."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def offset_name(offset: timedelta) -> str:
    """ "UTC+01:00", "UTC−05:00" (a real minus sign, as the page writes negative numbers)."""
    minutes = int(offset.total_seconds() // 60)
    sign = "−" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def choose_zone(withings_tz: str | None, whoop_offset: str | None, whoop_at: datetime | None) -> PageZone:
    """The person's zone: Withings' named zone when WHOOP's newest offset agrees, else WHOOP's offset."""
    named = named_zone(withings_tz)
    fixed = parse_offset(whoop_offset)
    if named is not None and (
        fixed is None or whoop_at is None or whoop_at.astimezone(named).utcoffset() == fixed.utcoffset(None)
    ):
        # A named zone also gets last winter's days right; a fixed offset cannot.
        return PageZone(named, withings_tz, "withings")
    if fixed is not None:
        # Travelling: the WHOOP strap knows where the person woke up, the scale at home does not.
        return PageZone(fixed, offset_name(fixed.utcoffset(None)), "whoop")
    now = clock.utcnow().astimezone()
    return PageZone(now.tzinfo, offset_name(now.utcoffset() or timedelta(0)), "computer")


def local_day(when: datetime, zone: tzinfo) -> date:
    """The calendar day `when` falls on in `zone`."""
    return when.astimezone(zone).date()


def record_zone(page: PageZone, offset: str | None = None, tz_name: str | None = None) -> tzinfo:
    """A record's own zone (WHOOP offset or Withings name) when it has one, else the page's."""
    return parse_offset(offset) or named_zone(tz_name) or page.tz


def show(when: datetime | None, page: PageZone, fmt: str = "%a %d %b %Y, %H:%M") -> str | None:
    """`when` as text in the page's zone (the zone itself is named once, in the header)."""
    return None if when is None else when.astimezone(page.tz).strftime(fmt)


def naive_local(when: datetime, page: PageZone) -> str:
    """ISO text without an offset, in the page's zone: what the chart's date axis plots."""
    return when.astimezone(page.tz).replace(tzinfo=None).isoformat(timespec="minutes")


_ZONE_SOURCES = {"withings": "from your Withings data", "whoop": "from your WHOOP data", "computer": "this computer's"}


def show_in_page_zone(status: dict) -> None:
    """Have a `status` report show its times in the zone the dashboard would (`status --local-time`):
    chosen from its `zone_hints`, and named with where it came from."""
    zone = choose_zone(**status.pop("zone_hints"))
    status["display_tz"] = zone.tz
    status["display_zone"] = describe(zone, status["now"])


def describe(zone: PageZone, now: datetime) -> str:
    """How a command names the zone it shows times in: "Europe/Berlin (CET), the dashboard's zone,
    from your Withings data"."""
    return f"{zone.label(now)}, the dashboard's zone, {_ZONE_SOURCES[zone.source]}"
