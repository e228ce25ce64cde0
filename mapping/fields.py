"""Field readers shared by the mappers: lenient where a value is unambiguous, strict where not.

Every reader returns the value in its column's type or raises MappingError naming the field.
JSON has a single number type, and many serializers write 68 as 68.0: an integral float is
accepted in an integer field, a fractional one (68.5) is not.

A value the column can hold is stored as sent, even when it is implausible (a diastolic
pressure of 1 typed by hand): `flag_of` names it in the row's `flag` instead, so nothing the
API holds is withheld. MappingError is only for what cannot be stored.

Nothing here reads the clock: a date's upper bound is checked against the `now` the caller
passes in (the loader's instant), so a mapper's output depends on its arguments alone.
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

INT32 = 2**31 - 1
INT64 = 2**63 - 1
# Plausibility bounds for every date an API sends (2010-01-01 to now + 2 days):
# WHOOP and Withings devices did not exist before, and a clock a day ahead is tolerated.
EARLIEST_DATE = datetime(2010, 1, 1, tzinfo=timezone.utc)
FUTURE_SLACK = timedelta(days=2)
MAX_DURATION_MILLI = 7 * 24 * 3600 * 1000  # no WHOOP sleep, zone or need lasts a week


class MappingError(ValueError):
    """An API record that cannot become a row; the message is the reason."""


class RowsByTable(dict):
    """What a record that fills several tables maps to: table name -> that table's rows.

    A mapper of one table returns its row itself; one of several names where each row goes, so
    the loader never decides it by position."""


class Plausible(NamedTuple):
    """The range a value is expected in (None: open); outside it the row is flagged, not refused."""

    low: float | None
    high: float | None = None
    unit: str = ""


NON_NEGATIVE = Plausible(0)


def _num(value: float) -> str:
    """68, 68.5 or -3300000: integral values without a decimal point or an exponent."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _range_text(bound: Plausible) -> str:
    unit = f" {bound.unit}" if bound.unit else ""
    if bound.high is None:
        return f"{_num(bound.low)}{unit} or more"
    if bound.low is None:
        return f"{_num(bound.high)}{unit} or less"
    return f"{_num(bound.low)}-{_num(bound.high)}{unit}"


def implausible(name: str, value: Any, bound: Plausible) -> str | None:
    """ "diastolic blood pressure 1 mmHg below plausible 20-300 mmHg", or None when within bounds."""
    if value is None:
        return None
    if bound.low is not None and value < bound.low:
        side = "below"
    elif bound.high is not None and value > bound.high:
        side = "above"
    else:
        return None
    unit = f" {bound.unit}" if bound.unit else ""
    return f"{name} {_num(value)}{unit} {side} plausible {_range_text(bound)}"


def flag_of(row: dict, bounds: dict[str, Plausible], *reasons: str | None) -> str | None:
    """The row's `flag`: every implausible column and extra reason joined by "; ", or None."""
    found = [implausible(column, row.get(column), bound) for column, bound in bounds.items()]
    return "; ".join(r for r in (*found, *reasons) if r) or None


def latest_plausible(now: datetime) -> datetime:
    """The newest date a record may carry: `now` plus a clock-skew slack."""
    return now + FUTURE_SLACK


def local_date(when: datetime | None, tz_name: str | None) -> date | None:
    """The calendar day `when` fell on in the IANA zone `tz_name`; the UTC day without a known zone."""
    if when is None:
        return None
    try:
        zone = ZoneInfo(tz_name) if tz_name else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        zone = timezone.utc  # documented in the README: an unknown zone name files the UTC day
    return when.astimezone(zone).date()


def require(record: dict, key: str) -> Any:
    """`record[key]`, or MappingError when it is absent or null."""
    value = record.get(key)
    if value is None:
        raise MappingError(f"missing {key}")
    return value


def _bounded(value, name: str, low, high):
    if (low is not None and value < low) or (high is not None and value > high):
        raise MappingError(f"{name} out of bounds: {value} (expected {low} to {high})")
    return value


def integer(value: Any, name: str, limit: int = INT64, low: int | None = None, high: int | None = None) -> int | None:
    """An integer field; None stays None, 68.0 becomes 68, 68.5 or "68" is rejected."""
    if value is None:
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise MappingError(f"{name} must be an integer, got {value!r}")
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MappingError(f"{name} must be an integer, got {type(value).__name__}")
    if not -limit - 1 <= value <= limit:
        raise MappingError(f"{name} out of range: {value}")
    return _bounded(value, name, low, high)


def number(value: Any, name: str, low: float | None = None, high: float | None = None) -> float | None:
    """A finite number field; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MappingError(f"{name} must be a number, got {type(value).__name__}")
    try:
        result = float(value)
    except OverflowError:  # an integer beyond a double
        raise MappingError(f"{name} out of range: {value}") from None
    if not math.isfinite(result) or abs(result) > 1e15:
        raise MappingError(f"{name} out of range: {value}")
    return _bounded(result, name, low, high)


def boolean(value: Any, name: str) -> bool | None:
    """A true/false field; None stays None (unknown, never a default)."""
    if value is None:
        return None
    if not isinstance(value, bool):
        raise MappingError(f"{name} must be true or false, got {type(value).__name__}")
    return value


def text(value: Any, name: str, max_len: int) -> str | None:
    """A string field of at most `max_len` characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MappingError(f"{name} must be a string, got {type(value).__name__}")
    if len(value) > max_len:
        raise MappingError(f"{name} longer than {max_len} characters")
    return value


def uuid_text(value: Any, name: str) -> str:
    """A UUID string in its canonical lower-case form."""
    if not isinstance(value, str):
        raise MappingError(f"{name} must be a UUID string, got {type(value).__name__}")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise MappingError(f"{name} is not a UUID") from None


def ymd_date(value: Any, name: str) -> date | None:
    """A `YYYY-MM-DD` string (Withings' local dates) as a date; None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MappingError(f"{name} must be a YYYY-MM-DD string")
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise MappingError(f"{name} is not a YYYY-MM-DD date: {value[:20]!r}") from None


def check_date(when: datetime, name: str, now: datetime) -> datetime:
    """`when` if it lies between 2010-01-01 and now + 2 days."""
    if not EARLIEST_DATE <= when <= latest_plausible(now):
        raise MappingError(f"{name} out of bounds: {when.isoformat()} (expected 2010-01-01 to now + 2 days)")
    return when


def parse_timestamp(value: Any, name: str, now: datetime) -> datetime | None:
    """ISO-8601 (WHOOP, `Z` or an offset) -> aware UTC datetime within the date bounds."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MappingError(f"{name} must be an ISO-8601 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            # WHOOP's migration guide: "Timezone handling standardized to UTC when not specified".
            parsed = parsed.replace(tzinfo=timezone.utc)
        parsed = parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise MappingError(f"{name} is not an ISO-8601 timestamp: {value[:40]!r}") from None
    return check_date(parsed, name, now)


def parse_epoch(value: Any, name: str, now: datetime) -> datetime | None:
    """Unix seconds (Withings) -> aware UTC datetime within the date bounds; epochs are UTC."""
    seconds = integer(value, name)
    if seconds is None:
        return None
    low, high = EARLIEST_DATE.timestamp(), latest_plausible(now).timestamp()
    if not low <= seconds <= high:  # checked before fromtimestamp, which fails past year 9999
        raise MappingError(f"{name} out of bounds: {seconds} (expected 2010-01-01 to now + 2 days)")
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def order_flag(start: datetime | None, end: datetime | None) -> str | None:
    """A reason when the record ends before it starts (stored as sent, flagged), else None."""
    if start is not None and end is not None and end < start:
        return f"end {end.isoformat()} is before start {start.isoformat()}"
    return None


class CheckedRecord(dict):
    """A record `check_storable` passed, and the JSON text it made of it (`json_text`).

    The mappers store it as the row's `raw`: it equals the record, and the database write sends
    this text instead of encoding the record a second time (storage.engine's JSON serializer).
    """

    __slots__ = ("json_text",)


def check_storable(record: Any) -> Any:
    """Reject what a database refuses in text or JSONB: NUL, lone surrogates, NaN and infinities.

    One C-speed pass over the serialised record clears almost every record; only a bad one is
    walked to name the offending field. Returns what to store as `raw`: an object record as a
    CheckedRecord carrying that pass's text, anything else as it came.
    """
    try:
        serialised = json.dumps(record, ensure_ascii=False, allow_nan=False)
        if "\x00" not in serialised:
            serialised.encode("utf-8")
            if not isinstance(record, dict):
                return record
            checked = CheckedRecord(record)
            checked.json_text = serialised
            return checked
    except (UnicodeEncodeError, TypeError, ValueError):
        pass  # the walk below names the field
    _find_unstorable(record)
    raise MappingError("record cannot be stored as JSON")


def _find_unstorable(value: Any, path: str = "record") -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise MappingError(f"{path} contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise MappingError(f"{path} is not valid UTF-8 text") from None
    elif isinstance(value, float) and not math.isfinite(value):
        # `1e999` parses as infinity; PostgreSQL's JSONB has no such number.
        raise MappingError(f"{path} is not a finite number: {value!r}")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise MappingError(f"{path} has a non-text key")
            _find_unstorable(key, path)
            _find_unstorable(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            _find_unstorable(item, path)
