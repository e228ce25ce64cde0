"""Pure mappers of Withings' high-frequency series: Sleep v2 `get` (sleep states and their minute
series) and Measure v2 `getintradayactivity` (docs/API_NOTES.md, Withings "Sleep series" and
"Intraday activity").

One API answer becomes records of one row each, so that a single bad reading is quarantined on
its own and the rest of the day is stored: `sleep_records` splits a night's segments into the
segments themselves and one record per (device, timestamp) with every series value of that
minute; `intraday_records` turns the object keyed by timestamp into one record per sample.
A value the device did not send stays NULL; -1 and other values below zero are stored as sent
and named in the row's `flag`. Fields without a column land in the row's `extra`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from mapping.fields import (
    EARLIEST_DATE,
    INT32,
    MappingError,
    RowsByTable,
    check_storable,
    integer,
    latest_plausible,
    number,
    order_flag,
    parse_epoch,
    require,
    text,
)

# Every `data_fields` entry the reference documents for Sleep v2 get; the API answers only what
# is asked. Integer columns, and those that may carry fractions (HRV and rates).
SLEEP_SERIES_INT_FIELDS = ("hr", "snoring", "hrv_quality", "mvt_score", "breathing_sounds")
SLEEP_SERIES_FLOAT_FIELDS = ("rr", "sdnn_1", "rmssd", "chest_movement_rate", "withings_index")
SLEEP_DATA_FIELDS = (
    "hr",
    "rr",
    "snoring",
    "sdnn_1",
    "rmssd",
    "hrv_quality",
    "mvt_score",
    "chest_movement_rate",
    "withings_index",
    "breathing_sounds",
)
# Every `data_fields` entry the reference documents for getintradayactivity (`sdnn1` here,
# `sdnn_1` in the sleep series: the reference spells them so).
INTRADAY_INT_FIELDS = ("steps", "stroke", "pool_lap", "duration", "heart_rate", "hrv_quality")
INTRADAY_FLOAT_FIELDS = (
    "elevation",
    "calories",
    "distance",
    "spo2_auto",
    "rmssd",
    "sdnn1",
    "core_body_temperature",
    "rr",
    "chest_movement_rate",
)
INTRADAY_DATA_FIELDS = (
    "steps",
    "elevation",
    "calories",
    "distance",
    "stroke",
    "pool_lap",
    "duration",
    "heart_rate",
    "spo2_auto",
    "rmssd",
    "sdnn1",
    "hrv_quality",
    "core_body_temperature",
    "rr",
    "chest_movement_rate",
)
SEGMENT_TABLE, SERIES_TABLE, INTRADAY_TABLE = "withings_sleep_segment", "withings_sleep_series", "withings_intraday"
# A point record's own keys (not values): its minute and the device that measured it.
POINT_KEYS = ("timestamp", "model_id", "model")
INTRADAY_KEYS = ("timestamp", "deviceid", "model", "model_id")


# ---- splitting an answer into records ---------------------------------------------------------


def sleep_records(segments: list) -> list:
    """A Sleep v2 get `series` -> its segments (series removed) and one record per (model_id, timestamp).

    Segments of a night can overlap, and both then carry the shared minutes: a minute is one
    record. Should two segments disagree on a minute's value, the first segment's value is the
    column's and the other is kept in the record's `conflicts` (so in the row's `extra`).
    A series that is not an object of timestamp -> value stays in its segment, whose mapper
    rejects it: the segment is quarantined with it, nothing is dropped.
    """
    records: list = []
    points: dict[tuple, dict] = {}
    for segment in segments:
        if not isinstance(segment, dict):
            records.append(segment)  # the mapper names what is wrong with it
            continue
        kept = {}
        for key, value in segment.items():
            if key in _SERIES_SET and isinstance(value, dict):
                _spread(points, segment.get("model_id"), segment.get("model"), key, value)
            else:
                kept[key] = value
        records.append(kept)
    records.extend(points.values())
    return records


_SERIES_SET = frozenset(SLEEP_DATA_FIELDS)


def _spread(points: dict, model_id: Any, model: Any, field: str, values: dict) -> None:
    for ts, value in values.items():
        point = points.get((model_id, ts))
        if point is None:
            point = points[(model_id, ts)] = {"timestamp": ts, "model_id": model_id, "model": model}
        if field not in point:
            point[field] = value
        elif point[field] != value:
            point.setdefault("conflicts", {}).setdefault(field, []).append(value)


def intraday_records(series: Any) -> list:
    """A getintradayactivity `series` (an object keyed by timestamp; `[]` when empty) -> one record a sample."""
    if isinstance(series, list):
        if series:
            raise MappingError("series is a non-empty list; an object keyed by timestamp was expected")
        return []
    return [
        {"timestamp": ts, **sample} if isinstance(sample, dict) else {"timestamp": ts, "sample": sample}
        for ts, sample in series.items()
    ]


# ---- records -> rows ---------------------------------------------------------------------------
# A year of intraday data is half a million samples: the readers below take the common case (an
# int or a float within bounds) inline and hand anything else to mapping.fields, which accepts or
# refuses it with the same rules as every other mapper.


def _int(value: Any, name: str) -> int | None:
    if type(value) is int and -INT32 - 1 <= value <= INT32:
        return value
    return integer(value, name, INT32)


def _float(value: Any, name: str) -> float | None:
    if type(value) is float and -1e15 <= value <= 1e15:  # NaN fails both comparisons
        return value
    if type(value) is int and -(10**15) <= value <= 10**15:
        return float(value)
    return number(value, name)


_READERS = {
    **{f: _int for f in (*SLEEP_SERIES_INT_FIELDS, *INTRADAY_INT_FIELDS)},
    **{f: _float for f in (*SLEEP_SERIES_FLOAT_FIELDS, *INTRADAY_FLOAT_FIELDS)},
}
_LOW = int(EARLIEST_DATE.timestamp())


_LATEST: list = [None, 0]  # the last `now` asked for and its latest plausible second: a page shares one


def _high(now: datetime) -> int:
    latest = _LATEST
    if latest[0] is not now:
        latest[1], latest[0] = int(latest_plausible(now).timestamp()), now
    return latest[1]


def _timestamp(value: Any, now: datetime) -> datetime:
    """A series key: unix seconds as JSON writes an object key (a string), or a number."""
    if type(value) is str and value.isdigit():
        seconds = int(value)
        if _LOW <= seconds <= _high(now):
            return datetime.fromtimestamp(seconds, timezone.utc)
    if isinstance(value, str):
        if not value.isdigit():
            raise MappingError(f"timestamp {value[:20]!r} is not unix seconds")
        value = int(value)
    return parse_epoch(require({"timestamp": value}, "timestamp"), "timestamp", now)


_OWN = None  # a key of the record itself (its minute, its device), not a value


def _values(record: dict, readers: dict, row: dict) -> str | None:
    """Fill `row` with the fields `readers` reads from `record`; unknown keys go to `extra`. Returns the flag."""
    low = extra = None
    for key, value in record.items():
        read = readers.get(key, _values)
        if read is _OWN:
            continue
        if read is _values:
            extra = extra or {}
            extra[key] = value
            continue
        if value is not None:
            value = read(value, key)
            if value < 0:
                low = [*(low or ()), f"{key} {value:g} below 0"]
        row[key] = value
    if extra:
        row["extra"] = check_storable(extra)
    return "; ".join(low) if low else None


def sleep_series_to_rows(record: Any, user_id: int, *, now: datetime) -> RowsByTable:
    """One record of `sleep_records` -> a `withings_sleep_segment` row or a `withings_sleep_series` row."""
    if not isinstance(record, dict):
        raise MappingError(f"a sleep segment must be an object, got {type(record).__name__}")
    if "timestamp" in record:
        return RowsByTable({SERIES_TABLE: [_point_row(record, user_id, now)]})
    return RowsByTable({SEGMENT_TABLE: [_segment_row(record, user_id, now)]})


SERIES_COLUMNS = (*SLEEP_SERIES_INT_FIELDS, *SLEEP_SERIES_FLOAT_FIELDS)
_SERIES_ROW = dict.fromkeys(("user_id", "measured_at", "model_id", *SERIES_COLUMNS, "extra"))
_SERIES_READERS = {**dict.fromkeys(POINT_KEYS, _OWN), **{f: _READERS[f] for f in SLEEP_DATA_FIELDS}}


def _point_row(record: dict, user_id: int, now: datetime) -> dict:
    row = _SERIES_ROW.copy()
    row["user_id"] = user_id
    row["measured_at"] = _timestamp(record["timestamp"], now)
    row["model_id"] = _int(require(record, "model_id"), "model_id")
    row["flag"] = _values(record, _SERIES_READERS, row)
    return row


def _segment_row(record: dict, user_id: int, now: datetime) -> dict:
    for field in SLEEP_DATA_FIELDS:
        if field in record:  # sleep_records moved every well-formed series out
            raise MappingError(f"{field} must be an object of timestamp -> value, got {type(record[field]).__name__}")
    row = {
        "user_id": user_id,
        "start": parse_epoch(require(record, "startdate"), "startdate", now),
        "end": parse_epoch(require(record, "enddate"), "enddate", now),
        "state": integer(require(record, "state"), "state", INT32),
        "model": text(record.get("model"), "model", 100),
        "model_id": integer(require(record, "model_id"), "model_id", INT32),
        "raw": check_storable(record),
    }
    row["flag"] = order_flag(row["start"], row["end"])
    return row


INTRADAY_COLUMNS = (*INTRADAY_INT_FIELDS, *INTRADAY_FLOAT_FIELDS)
# Every column of a row, in one order: the bulk insert sends the same columns for every row.
_INTRADAY_ROW = dict.fromkeys(("user_id", "measured_at", "device_id", "model", "model_id", *INTRADAY_COLUMNS, "extra"))
_INTRADAY_READERS = {**dict.fromkeys(INTRADAY_KEYS, _OWN), **{f: _READERS[f] for f in INTRADAY_DATA_FIELDS}}


def intraday_to_row(record: Any, user_id: int, *, now: datetime) -> dict:
    """One getintradayactivity sample (its timestamp added) -> a `withings_intraday` row."""
    if not isinstance(record, dict):
        raise MappingError(f"an intraday sample must be an object, got {type(record).__name__}")
    if "sample" in record and len(record) == 2:
        raise MappingError(f"the sample at {record['timestamp']!r} is not an object")
    row = _INTRADAY_ROW.copy()
    row["user_id"] = user_id
    row["measured_at"] = _timestamp(record.get("timestamp"), now)
    device, model = record.get("deviceid"), record.get("model")
    row["device_id"] = device if type(device) is str and len(device) <= 64 else text(device, "deviceid", 64)
    row["model"] = model if type(model) is str and len(model) <= 100 else text(model, "model", 100)
    row["model_id"] = _int(record.get("model_id"), "model_id")
    row["flag"] = _values(record, _INTRADAY_READERS, row)
    return row
