"""Implausible values are kept exactly as sent and flagged with their reason; only what cannot be
stored goes to the quarantine. A corrected value clears its flag on the next load."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from models import Cycle, Quarantine, Sleep, WithingsHeartRate, WithingsMeasure, WithingsWeight
from tests.conftest import shared_data
from tests.helpers import factories as f
from tests.helpers import loaders

TYPO_GROUP = 2920427745  # a real manual entry (attrib 2, 2021): BP 161/1, pulse 82


def test_the_real_capture_lands_whole_with_the_typo_flagged(session):
    groups = json.loads(shared_data("withings_getmeas_real_2021_2023.json").read_text())
    counts = loaders.load_withings_measures(session, groups, user_id=42, timezone="Europe/Berlin")
    session.commit()
    cardio = {g["grpid"] for g in groups if {m["type"] for m in g["measures"]} & {9, 10, 11}}
    assert len(cardio) == 1208
    h = WithingsHeartRate
    stored = session.scalars(
        select(h.grpid).where(
            h.systolic_mmhg.is_not(None) | h.diastolic_mmhg.is_not(None) | h.heart_rate_bpm.is_not(None)
        )
    )
    assert set(stored) == cardio
    assert (counts.rejected, counts.quarantined) == (0, 0)
    assert session.scalar(select(func.count()).select_from(Quarantine)) == 0
    typo = session.scalars(select(WithingsHeartRate).where(WithingsHeartRate.grpid == TYPO_GROUP)).one()
    assert (typo.systolic_mmhg, typo.diastolic_mmhg, typo.heart_rate_bpm, typo.attrib) == (161, 1, 82, 2)
    assert typo.flag == "diastolic blood pressure 1 mmHg below plausible 20-300 mmHg"
    flagged = session.execute(select(WithingsHeartRate.grpid).where(WithingsHeartRate.flag.is_not(None))).all()
    assert flagged == [(TYPO_GROUP,)]
    measure = session.scalars(
        select(WithingsMeasure).where(WithingsMeasure.grpid == TYPO_GROUP, WithingsMeasure.meastype == 9)
    ).one()
    assert (measure.value, measure.value_raw, measure.flag) == (1, 1, typo.flag)
    other = session.scalars(
        select(WithingsMeasure.flag).where(WithingsMeasure.grpid == TYPO_GROUP, WithingsMeasure.meastype != 9)
    ).all()
    assert other == [None, None]  # systolic 161 and pulse 82 are plausible


def test_a_corrected_withings_value_clears_its_flag(session):
    group = f.bp_group(501)
    group["measures"][0]["value"] = 100  # diastolic 1 mmHg
    loaders.load_withings_measures(session, [group], user_id=3)
    session.commit()
    row = session.scalars(select(WithingsHeartRate)).one()
    assert (row.diastolic_mmhg, row.flag) == (1, "diastolic blood pressure 1 mmHg below plausible 20-300 mmHg")
    fixed = f.bp_group(501)
    fixed["modified"] += 600
    counts = loaders.load_withings_measures(session, [fixed], user_id=3)
    session.commit()
    session.expire_all()
    assert counts.updated == 1
    assert (row.diastolic_mmhg, row.flag) == (80, None)
    assert session.scalars(select(WithingsMeasure.flag).where(WithingsMeasure.meastype == 9)).one() is None


def test_several_reasons_are_joined_and_the_weight_table_is_flagged_too(session):
    group = f.weight_group(502, grams=600_000)  # 600 kg
    group["measures"][1]["value"] = 21000  # fat ratio 210 %
    loaders.load_withings_measures(session, [group], user_id=3)
    session.commit()
    row = session.scalars(select(WithingsWeight)).one()
    assert (row.weight_kg, row.fat_ratio_pct) == (600, 210)
    assert row.flag == ("weight 600 kg above plausible 1-500 kg; fat ratio 210 % above plausible 0-100 %")


def test_a_whoop_record_is_stored_flagged_and_cleared_when_whoop_corrects_it(session):
    bad = f.cycle(7)
    bad["score"]["average_heart_rate"] = 3
    bad["score"]["strain"] = 25.5
    counts = loaders.load_cycles(session, [bad, f.cycle(8)])
    session.commit()
    assert (counts.inserted, counts.quarantined) == (2, 0)
    row = session.scalars(select(Cycle).where(Cycle.whoop_id == bad["id"])).one()
    assert (row.average_heart_rate, row.strain, row.raw) == (3, 25.5, bad)
    assert row.flag == "strain 25.5 above plausible 0-21; average_heart_rate 3 bpm below plausible 20-300 bpm"
    again = loaders.load_cycles(session, [f.cycle(7), f.cycle(8)])
    session.commit()
    session.expire_all()
    assert (again.updated, again.unchanged) == (1, 1)
    assert row.flag is None and row.average_heart_rate == f.cycle(7)["score"]["average_heart_rate"]


def test_an_end_before_the_start_is_stored_and_flagged(session):
    record = f.sleep(3)
    record["end"] = "2020-01-01T00:00:00.000Z"
    loaders.load_sleep(session, [record])
    session.commit()
    row = session.scalars(select(Sleep)).one()
    assert row.flag.startswith("end 2020-01-01T00:00:00+00:00 is before start")
