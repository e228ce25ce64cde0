"""Every Withings measure kept: Body Scan whole body and segments, SpO2, temperature, height, attrib."""

from __future__ import annotations

import collections
import json
from datetime import timedelta

from sqlalchemy import select

from mapping.withings import NO_POSITION
from models import WithingsHeartRate, WithingsMeasure, WithingsWeight
from readers.status import collect_status, format_status
from tests.conftest import shared_data
from tests.helpers import factories as f
from tests.helpers import loaders

DATE = int((f.BASE + timedelta(days=3)).timestamp())


def _group(
    grpid: int, measures: list[tuple], *, attrib: int = 0, model: str | None = "Body Scan", date: int = DATE
) -> dict:
    """A getmeas group in the shape devices send; measures as (value, type, unit[, position])."""
    return {
        "grpid": grpid,
        "attrib": attrib,
        "date": date,
        "created": date + 70,
        "modified": date + 70,
        "category": 1,
        "deviceid": None if model is None else "0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d9c",
        "hash_deviceid": None,
        "modelid": None,
        "model": model,
        "comment": None,
        "measures": [
            {
                "value": m[0],
                "type": m[1],
                "unit": m[2],
                "algo": 0,
                "fm": 3,
                **({"position": m[3]} if len(m) > 3 else {}),
            }
            for m in measures
        ],
    }


# A Body Scan weigh-in: weight without a position, whole-body composition at position 7 (the
# scale repeats fat-free and fat mass), segments at 2/3 (arms), 10/11 (legs) and 12 (torso).
BODY_SCAN = _group(
    7001,
    [
        (84312, 1, -3),
        (6571, 5, -2, 7),
        (6571, 5, -2, 7),
        (1860, 8, -2, 7),
        (1860, 8, -2, 7),
        (6244, 76, -2, 7),
        (4530, 77, -2, 7),
        (327, 88, -2, 7),
        (1874, 168, -2, 7),
        (2656, 169, -2, 7),
        (71, 170, -1, 7),
        (3512, 173, -2, 12),
        (1204, 173, -2, 10),
        (1188, 173, -2, 11),
        (412, 173, -2, 3),
        (429, 173, -2, 2),
        (1035, 174, -2, 12),
        (213, 174, -2, 10),
        (95, 174, -2, 2),
        (1917, 226, 0, 7),
        (22061, 6, -3),
    ],
)


def _decoded(value: int, unit: int) -> float:
    return float(f"{value}e{unit}")


def test_body_scan_whole_body_and_segments_land_exactly(session):
    counts = loaders.load_withings_measures(session, [BODY_SCAN], user_id=9, timezone="Europe/Paris")
    session.commit()
    assert (counts.fetched, counts.inserted, counts.rejected) == (1, 1, 0)
    stored = {(m.meastype, m.position): m for m in session.scalars(select(WithingsMeasure))}
    expected = {(m["type"], m.get("position", NO_POSITION)): m for m in BODY_SCAN["measures"]}
    assert set(stored) == set(expected)  # the repeated 5 and 8 collapse to one row each
    for key, m in expected.items():
        row = stored[key]
        assert (row.value_raw, row.unit, row.value) == (m["value"], m["unit"], _decoded(m["value"], m["unit"])), key
        assert (row.grpid, row.user_id, row.attrib, row.model, row.raw) == (7001, 9, 0, "Body Scan", m)
        assert row.measured_at.timestamp() == DATE
    weight = session.scalars(select(WithingsWeight)).one()
    assert (
        weight.weight_kg,
        weight.fat_free_mass_kg,
        weight.fat_mass_kg,
        weight.muscle_mass_kg,
        weight.hydration_kg,
        weight.bone_mass_kg,
        weight.fat_ratio_pct,
    ) == (84.312, 65.71, 18.6, 62.44, 45.3, 3.27, 22.061)
    again = loaders.load_withings_measures(session, [BODY_SCAN], user_id=9, timezone="Europe/Paris")
    assert (again.unchanged, again.inserted, again.updated) == (1, 0, 0)


def test_groups_without_a_typed_column_are_stored(session):
    groups = [
        _group(8001, [(97, 54, 0)], model="ScanWatch"),  # SpO2 spot check
        _group(8002, [(36712, 71, -3)], model="Thermo"),  # body temperature
        _group(8003, [(3345, 73, -2)], model="Thermo"),  # skin temperature
        _group(8004, [(1780, 4, -3)], attrib=2, model=None),  # height typed in the app
        _group(8005, [(456, 123, -1), (61, 167, 0), (1702, 226, 0)], model="Body Scan"),
    ]
    counts = loaders.load_withings_measures(session, groups, user_id=9)
    session.commit()
    assert (counts.inserted, counts.rejected, counts.skipped) == (5, 0, 0)
    rows = {(m.grpid, m.meastype): m.value for m in session.scalars(select(WithingsMeasure))}
    assert rows == {
        (8001, 54): 97.0,
        (8002, 71): 36.712,
        (8003, 73): 33.45,
        (8004, 4): 1.78,
        (8005, 123): 45.6,
        (8005, 167): 61.0,
        (8005, 226): 1702.0,
    }
    assert session.scalars(select(WithingsWeight)).all() == []


def test_blood_pressure_cuff_position_is_where_it_was_worn(session):
    cuff = _group(8101, [(82, 9, 0, 3), (131, 10, 0, 3), (67, 11, 0, 3)], model="BPM Connect")
    loaders.load_withings_measures(session, [cuff], user_id=9)
    session.commit()
    row = session.scalars(select(WithingsHeartRate)).one()
    assert (row.diastolic_mmhg, row.systolic_mmhg, row.heart_rate_bpm) == (82.0, 131.0, 67.0)


def test_two_different_values_for_one_type_and_position_are_quarantined(session):
    clash = _group(8201, [(80000, 1, -3), (81000, 1, -3)])
    counts = loaders.load_withings_measures(session, [clash, f.weight_group(8202)], user_id=9)
    session.commit()
    assert (counts.inserted, counts.rejected, counts.quarantined) == (1, 1, 1)
    assert "appears twice with different values" in counts.errors[0]


def test_a_measure_removed_from_an_edited_group_is_marked_deleted(session):
    loaders.load_withings_measures(session, [BODY_SCAN], user_id=9)
    edited = json.loads(json.dumps(BODY_SCAN))
    edited["measures"] = [m for m in edited["measures"] if m["type"] != 88]
    edited["modified"] += 600
    counts = loaders.load_withings_measures(session, [edited], user_id=9)
    session.commit()
    assert counts.updated == 1
    bone = session.scalars(select(WithingsMeasure).where(WithingsMeasure.meastype == 88)).one()
    assert bone.deleted_at is not None
    assert session.scalars(select(WithingsWeight.bone_mass_kg)).one() is None
    loaders.load_withings_measures(session, [BODY_SCAN], user_id=9)  # put back in Health Mate
    session.commit()
    session.expire_all()
    assert session.get(WithingsMeasure, bone.id).deleted_at is None


def test_ambiguous_weight_is_not_the_latest_unless_alone_and_manual_is_labelled(engine, session):
    mine = f.weight_group(9001, grams=80100, day=1)
    someone_else = f.weight_group(9002, grams=61200, day=2)
    someone_else["attrib"] = 1
    loaders.load_withings_measures(session, [someone_else], user_id=9)
    session.commit()
    assert collect_status(engine)["latest_weight"]["kg"] == 61.2  # nothing else exists
    assert "may be someone else's" in format_status(collect_status(engine))
    loaders.load_withings_measures(session, [mine], user_id=9)
    session.commit()
    assert collect_status(engine)["latest_weight"]["kg"] == 80.1
    manual = _group(9003, [(79900, 1, -3)], attrib=2, model=None, date=int((f.BASE + timedelta(days=3)).timestamp()))
    loaders.load_withings_measures(session, [manual], user_id=9)
    session.commit()
    status = collect_status(engine)
    assert (status["latest_weight"]["kg"], status["latest_weight"]["manual"]) == (79.9, True)
    assert "(manual entry)" in format_status(status)


def test_real_capture_measures_per_type(session):
    groups = json.loads(shared_data("withings_getmeas_real_2021_2023.json").read_text())
    counts = loaders.load_withings_measures(session, groups, user_id=42, timezone="Europe/Berlin")
    session.commit()
    sent = collections.Counter(m["type"] for g in groups for m in g["measures"])
    kept = collections.Counter(session.scalars(select(WithingsMeasure.meastype)))
    assert kept == sent  # every measure of every stored group, one row each
    assert counts.quarantined == 0
    print(
        f"\n[record] real capture: {len(groups)} groups, {sum(kept.values())} measures kept "
        f"({', '.join(f'type {t}: {n}' for t, n in sorted(kept.items()))}); quarantined {counts.quarantined}"
    )
