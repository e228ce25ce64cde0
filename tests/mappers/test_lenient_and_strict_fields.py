"""Lenient where unambiguous, strict where not: integral floats, flags for implausible values, NULL for missing fields."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from mapping import whoop as mappers
from models import Cycle, Recovery, Sleep, Workout
from tests.helpers import factories as f
from tests.helpers import loaders
from tests.helpers.factories import MAPPED_AT as NOW

# Every integer field of every WHOOP resource, as a path into the record.
INTEGER_FIELDS = {
    "cycles": (
        f.cycle,
        loaders.load_cycles,
        Cycle,
        [("id",), ("user_id",), ("score", "average_heart_rate"), ("score", "max_heart_rate")],
    ),
    "sleep": (
        f.sleep,
        loaders.load_sleep,
        Sleep,
        [("cycle_id",), ("user_id",)]
        + [("score", "stage_summary", name) for name in mappers.SLEEP_STAGE_FIELDS + mappers.SLEEP_COUNT_FIELDS]
        + [("score", "sleep_needed", name) for name in mappers.SLEEP_NEEDED_FIELDS + mappers.SLEEP_SIGNED_FIELDS],
    ),
    "recovery": (f.recovery, loaders.load_recovery, Recovery, [("cycle_id",), ("user_id",)]),
    "workout": (
        f.workout,
        loaders.load_workout,
        Workout,
        [("user_id",), ("sport_id",), ("score", "average_heart_rate"), ("score", "max_heart_rate")]
        + [("score", "zone_durations", name) for name in mappers.ZONE_FIELDS],
    ),
}


def _set(record: dict, path: tuple, value) -> None:
    for key in path[:-1]:
        record = record[key]
    record[path[-1]] = value


def _get(record: dict, path: tuple):
    for key in path:
        record = record[key]
    return record


def _as_floats(record: dict, paths: list[tuple]) -> dict:
    record = copy.deepcopy(record)
    if "sport_name" in record:
        record["sport_id"] = 63
    if "v1_id" in record:
        record["v1_id"] = 1_234_567
    for path in paths + ([("v1_id",)] if "v1_id" in record else []):
        node = record
        for key in path[:-1]:
            node = node[key]
        if node.get(path[-1]) is not None:
            node[path[-1]] = float(node[path[-1]])  # 68 -> 68.0, 1234 -> 1234.0
    return record


@pytest.mark.parametrize("kind", sorted(INTEGER_FIELDS))
def test_integral_floats_are_accepted_in_every_integer_field(session, kind):
    build, load, model, paths = INTEGER_FIELDS[kind]
    as_ints = _as_floats(build(1), [])
    as_floats = _as_floats(build(1), paths)
    assert all(isinstance(_get(as_floats, p), float) for p in paths)
    counts = load(session, [as_floats])
    session.commit()
    assert (counts.inserted, counts.rejected) == (1, 0), counts.errors
    stored = session.scalars(select(model)).one()
    mapper = {
        "cycles": mappers.cycle_to_row,
        "sleep": mappers.sleep_to_row,
        "recovery": mappers.recovery_to_row,
        "workout": mappers.workout_to_row,
    }[kind]
    expected = mapper(as_ints, now=NOW)
    for column, value in expected.items():
        if column != "raw":
            assert getattr(stored, column) == value and type(getattr(stored, column)) is type(value), column
    assert stored.raw == as_floats  # the payload is kept exactly as sent


@pytest.mark.parametrize(
    "path, value, reason",
    [
        (("score", "average_heart_rate"), 68.5, "average_heart_rate must be an integer, got 68.5"),
        (("score", "average_heart_rate"), "68", "average_heart_rate must be an integer, got str"),
        (("score", "max_heart_rate"), 1e20, "max_heart_rate out of range"),
        (("start",), "-1199-01-01T00:00:00Z", "start is not an ISO-8601 timestamp"),
        (("start",), "1970-01-01T00:00:00Z", "start out of bounds: 1970-01-01"),
        (("end",), "9999-12-31T00:00:00Z", "end out of bounds: 9999-12-31"),
    ],
)
def test_an_impossible_value_rejects_the_record_with_its_reason(path, value, reason):
    record = f.cycle(2)
    _set(record, path, value)
    with pytest.raises(mappers.MappingError, match=None) as caught:
        mappers.cycle_to_row(record, now=NOW)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    "path, value, flag",
    [
        (("score", "average_heart_rate"), 3, "average_heart_rate 3 bpm below plausible 20-300 bpm"),
        (("score", "strain"), -1.0, "strain -1 below plausible 0-21"),
        (("end",), "2025-03-01T00:00:00Z", "end 2025-03-01T00:00:00+00:00 is before start"),
    ],
)
def test_an_implausible_value_is_kept_as_sent_and_flagged(path, value, flag):
    record = f.cycle(2)
    _set(record, path, value)
    row = mappers.cycle_to_row(record, now=NOW)
    assert flag in row["flag"]
    assert row["raw"] == record


def test_a_plausible_record_has_no_flag():
    assert mappers.cycle_to_row(f.cycle(2), now=NOW)["flag"] is None
    assert mappers.sleep_to_row(f.sleep(3), now=NOW)["flag"] is None


@pytest.mark.parametrize(
    "field, value, flag",
    [
        ("total_in_bed_time_milli", -3_300_000, "total_in_bed_time_milli -3300000 ms below plausible 0-604800000 ms"),
        ("disturbance_count", -1, "disturbance_count -1 below plausible 0 or more"),
    ],
)
def test_negative_durations_and_counts_are_stored_and_flagged(field, value, flag):
    record = f.sleep(3)
    record["score"]["stage_summary"][field] = value
    row = mappers.sleep_to_row(record, now=NOW)
    assert row[field] == value and flag in row["flag"]


def test_a_fractional_count_is_rejected():
    record = f.sleep(3)
    record["score"]["stage_summary"]["sleep_cycle_count"] = 2.5
    with pytest.raises(mappers.MappingError, match="sleep_cycle_count"):
        mappers.sleep_to_row(record, now=NOW)


def test_a_recent_nap_may_lower_the_sleep_need():
    assert mappers.sleep_to_row(f.sleep(3), now=NOW)["need_from_recent_nap_milli"] == -12312


def test_a_missing_optional_field_is_null_never_a_default():
    record = f.sleep(4)
    del record["nap"]
    assert mappers.sleep_to_row(record, now=NOW)["nap"] is None
    workout = f.workout(4)
    del workout["score"]["zone_durations"]
    row = mappers.workout_to_row(workout, now=NOW)
    assert all(row[name] is None for name in mappers.ZONE_FIELDS)
