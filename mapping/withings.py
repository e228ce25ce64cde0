"""Pure Withings mapper: one getmeas measure group -> its typed rows and one row per measure.

Every measure of a group lands in `withings_measure` (exact `value x 10^unit`, raw value and
unit, position); the typed tables (`withings_weight`, `withings_heart_rate`) are the
convenient view the dashboard reads. docs/WITHINGS_MEASURES.md is the table of types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from mapping.fields import (
    INT32,
    MappingError,
    Plausible,
    RowsByTable,
    check_storable,
    implausible,
    integer,
    local_date,
    number,
    parse_epoch,
    require,
    text,
)

NO_POSITION = -1  # `withings_measure.position` when the API sent none: a NULL would not be a key
# Withings documents `position` as "the device's position during the measure" (0 right wrist,
# 2 right arm, 3 left arm, 8/9 left/right part of the body, 10 left leg, 11 right leg,
# 12 torso, ...; 7 is not documented). A Body Scan sends its whole-body composition with
# position 7 and its segments with 2, 3, 10, 11, 12: for composition types a position names
# the body segment, so only "none" and 7 mean the whole body. For the other types (blood
# pressure, pulse, SpO2, temperature) it says where the device was worn: the value is still
# the person's. See docs/WITHINGS_MEASURES.md.
WHOLE_BODY_POSITIONS = frozenset({None, 7})


class MeasureType(NamedTuple):
    """One Withings meastype: meaning, unit, typed column (or None), plausible range, composition or not.

    A value outside its range is stored as sent and named in the row's `flag`."""

    name: str
    unit: str
    table: str | None
    column: str | None
    low: float | None
    high: float | None
    composition: bool = False


W, H = "withings_weight", "withings_heart_rate"
MEASURE_TABLE = "withings_measure"
MEASURE_TYPES: dict[int, MeasureType] = {
    1: MeasureType("Weight", "kg", W, "weight_kg", 1, 500),
    4: MeasureType("Height", "m", None, None, 0.2, 3),
    5: MeasureType("Fat-free mass", "kg", W, "fat_free_mass_kg", 0, 500, True),
    6: MeasureType("Fat ratio", "%", W, "fat_ratio_pct", 0, 100, True),
    8: MeasureType("Fat mass", "kg", W, "fat_mass_kg", 0, 500, True),
    9: MeasureType("Diastolic blood pressure", "mmHg", H, "diastolic_mmhg", 20, 300),
    10: MeasureType("Systolic blood pressure", "mmHg", H, "systolic_mmhg", 20, 300),
    11: MeasureType("Heart pulse", "bpm", H, "heart_rate_bpm", 20, 300),
    12: MeasureType("Temperature", "°C", None, None, -40, 100),
    54: MeasureType("SpO2", "%", None, None, 0, 100),
    71: MeasureType("Body temperature", "°C", None, None, 20, 50),
    73: MeasureType("Skin temperature", "°C", None, None, 0, 50),
    76: MeasureType("Muscle mass", "kg", W, "muscle_mass_kg", 0, 500, True),
    77: MeasureType("Hydration", "kg", W, "hydration_kg", 0, 500, True),
    88: MeasureType("Bone mass", "kg", W, "bone_mass_kg", 0, 500, True),
    91: MeasureType("Pulse wave velocity", "m/s", H, "pulse_wave_velocity_m_s", 0, 100),
    123: MeasureType("VO2 max", "ml/min/kg", None, None, 0, 150),
    155: MeasureType("Vascular age", "years", H, "vascular_age", 0, 150),
    167: MeasureType("Nerve health score", "score", None, None, 0, 1000),
    168: MeasureType("Extracellular water", "kg", None, None, 0, 500, True),
    169: MeasureType("Intracellular water", "kg", None, None, 0, 500, True),
    170: MeasureType("Visceral fat", "index", None, None, 0, 1000, True),
    173: MeasureType("Fat-free mass (segment)", "kg", None, None, 0, 500, True),
    174: MeasureType("Fat mass (segment)", "kg", None, None, 0, 500, True),
    175: MeasureType("Muscle mass (segment)", "kg", None, None, 0, 500, True),
    226: MeasureType("Basal metabolic rate", "kcal/day", None, None, 0, 10000),
}
TYPED_COLUMNS = {
    W: [t.column for t in MEASURE_TYPES.values() if t.table == W],
    H: [t.column for t in MEASURE_TYPES.values() if t.table == H],
}
MANUAL_ATTRIBS = frozenset({2, 4})  # "entered manually", "entered manually during user creation"
AMBIGUOUS_ATTRIB = 1  # "captured by a device but may belong to other users as well"


@dataclass
class _Measure:
    meastype: int
    position: int | None
    value_raw: int
    unit: int
    value: float
    raw: dict = field(repr=False)

    @property
    def whole_body(self) -> bool:
        info = MEASURE_TYPES.get(self.meastype)
        return not (info and info.composition) or self.position in WHOLE_BODY_POSITIONS

    @property
    def flag(self) -> str | None:
        """Why the value looks implausible for its type ("diastolic blood pressure 1 mmHg below ..."), or None."""
        info = MEASURE_TYPES.get(self.meastype)
        if info is None:
            return None
        return implausible(info.name.lower(), self.value, Plausible(info.low, info.high, info.unit))


def decode_measure(measure: dict) -> tuple[int, int, float]:
    """(raw value, unit, value x 10^unit): exact in decimal (65750, -3 -> 65.75), then a float."""
    value = integer(measure.get("value"), "measures.value")
    unit = integer(measure.get("unit"), "measures.unit", limit=30)
    if value is None or unit is None:
        raise MappingError("measure without value or unit")
    return value, unit, number(float(Decimal(value).scaleb(unit)), "measures.value")


def _read_measure(measure: Any) -> _Measure:
    if not isinstance(measure, dict):
        raise MappingError("each measure must be an object")
    mtype = integer(require(measure, "type"), "measures.type", INT32)
    position = integer(measure.get("position"), "measures.position", INT32, low=0)
    value_raw, unit, value = decode_measure(measure)
    return _Measure(mtype, position, value_raw, unit, value, measure)


def _measures(group: dict) -> list[_Measure]:
    """The group's measures, one per (type, position); identical repeats collapse."""
    measures = group.get("measures")
    if not isinstance(measures, list):
        raise MappingError("measures must be a list")
    by_key: dict[tuple, _Measure] = {}
    for item in measures:
        m = _read_measure(item)
        key = (m.meastype, m.position)
        seen = by_key.get(key)
        # A real Body Scan repeats types 5 and 8 at position 7 with the same value: one measure.
        if seen is not None and (seen.value_raw, seen.unit) != (m.value_raw, m.unit):
            raise MappingError(
                f"type {m.meastype} at position {m.position} appears twice with "
                f"different values ({seen.value} and {m.value})"
            )
        by_key.setdefault(key, m)
    return list(by_key.values())


def _typed_values(measures: list[_Measure]) -> dict[str, _Measure]:
    """The typed columns: per type, the whole-body measure; two different values are ambiguous."""
    values: dict[str, _Measure] = {}
    for m in measures:
        info = MEASURE_TYPES.get(m.meastype)
        if info is None or info.column is None or not m.whole_body:
            continue
        if info.column in values and values[info.column].value != m.value:
            raise MappingError(
                f"type {m.meastype} has two whole-body values ({values[info.column].value} and {m.value})"
            )
        values[info.column] = m
    return values


def _typed_row(common: dict, group: dict, columns: list[str], values: dict[str, _Measure]) -> dict:
    """One typed row: its columns' values, flagged with the reasons of the implausible ones."""
    present = [values[c] for c in columns if c in values]
    flag = "; ".join(m.flag for m in present if m.flag) or None
    return {**common, "raw": group, **{c: values[c].value if c in values else None for c in columns}, "flag": flag}


def _group_common(group: dict, user_id: int, tz: str | None, now: datetime) -> dict:
    model = group.get("model")
    measured_at = parse_epoch(require(group, "date"), "date", now)
    return {
        "user_id": integer(user_id, "user_id"),
        "grpid": integer(require(group, "grpid"), "grpid"),
        "measured_at": measured_at,
        "timezone": text(tz, "timezone", 64),
        "created_at": parse_epoch(group.get("created"), "created", now),
        "modified_at": parse_epoch(group.get("modified"), "modified", now),
        "attrib": integer(group.get("attrib"), "attrib", INT32),  # 17 is undocumented: kept as is
        "category": integer(group.get("category"), "category", INT32),
        "device_id": text(group.get("deviceid"), "deviceid", 64),  # null on manual entries
        "model": text(str(model) if isinstance(model, (int, str)) else None, "model", 100),
    }


def measure_group_to_rows(group: Any, user_id: int, tz: str | None = None, *, now: datetime) -> RowsByTable:
    """A Withings measure group -> its rows by table: a weight row, a heart-rate row, measure rows.

    A group with body-composition types fills the weight table, one with BP/pulse types the
    heart-rate table (a group may fill both); every measure, whatever its type, is a
    `withings_measure` row.
    """
    if not isinstance(group, dict):
        raise MappingError(f"measure group must be an object, got {type(group).__name__}")
    raw = check_storable(group)
    if group.get("category") == 2:
        raise MappingError("category 2 is a user objective, not a measurement")
    common = _group_common(group, user_id, tz, now)
    measures = _measures(group)
    values = _typed_values(measures)
    typed = {
        table: {**_typed_row(common, raw, columns, values), "local_date": local_date(common["measured_at"], tz)}
        for table, columns in TYPED_COLUMNS.items()
        if values.keys() & set(columns)
    }
    rows = [
        {
            **common,
            "meastype": m.meastype,
            "position": NO_POSITION if m.position is None else m.position,
            "value": m.value,
            "value_raw": m.value_raw,
            "unit": m.unit,
            "raw": m.raw,
            "flag": m.flag,
        }
        for m in measures
    ]
    return RowsByTable({**{table: [row] for table, row in typed.items()}, MEASURE_TABLE: rows})
