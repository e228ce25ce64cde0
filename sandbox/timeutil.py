"""Time helpers shared by the sandbox: WHOOP ISO strings, unix seconds, local wall-clock times."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

UTC = timezone.utc


@lru_cache(maxsize=None)
def zone(name: str) -> ZoneInfo:
    """A cached ZoneInfo (the generator asks for the same two zones thousands of times)."""
    return ZoneInfo(name)


def iso_ms(moment: datetime) -> str:
    """WHOOP's timestamp form: UTC with milliseconds and a `Z`, e.g. 2022-04-24T11:25:44.774Z."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 date-time; a value without an offset is UTC, as WHOOP's v2 docs say."""
    moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch (the sandbox's sort key for WHOOP records)."""
    return int(moment.timestamp() * 1000)


def unix(moment: datetime) -> int:
    """Whole seconds since the epoch (Withings' timestamps)."""
    return int(moment.timestamp())


def from_unix(seconds: float) -> datetime:
    """An aware UTC datetime from unix seconds."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def local_at(day: date, hour: float, zone_name: str) -> datetime:
    """The UTC instant of a local wall-clock time (hour may be fractional) on `day` in a zone."""
    whole = int(hour)
    minutes = int(round((hour - whole) * 60))
    naive = datetime.combine(day, time(0, 0)) + timedelta(hours=whole, minutes=minutes)
    return naive.replace(tzinfo=zone(zone_name)).astimezone(UTC)


def offset_string(moment: datetime, zone_name: str) -> str:
    """WHOOP's `timezone_offset` (`+hh:mm` / `-hh:mm`) of a zone at an instant."""
    offset = moment.astimezone(zone(zone_name)).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def with_ms(moment: datetime, rng) -> datetime:
    """The same instant with random milliseconds (real WHOOP timestamps carry them)."""
    return moment.replace(microsecond=rng.randrange(1000) * 1000)
