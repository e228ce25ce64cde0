"""The fixtures of the high-frequency Withings endpoints and the WHOOP profile hold the documented shapes,
and every key they use is named in docs/API_NOTES.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import withings_shapes as shapes
from tests.helpers.api import fixture

API_NOTES = (Path(__file__).resolve().parents[2] / "docs" / "API_NOTES.md").read_text()
WITHINGS = {
    "withings/sleep_get_night.json": shapes.check_sleep_get,
    "withings/sleep_get_tracker.json": shapes.check_sleep_get,
    "withings/sleep_get_empty.json": shapes.check_sleep_get,
    "withings/intraday_gaps.json": shapes.check_intraday,
    "withings/intraday_empty.json": shapes.check_intraday,
    "withings/getworkouts_page.json": shapes.check_workouts,
    "withings/heart_list_page.json": shapes.check_heart_list,
    "withings/heart_list_empty.json": shapes.check_heart_list,
    "withings/heart_get_signal.json": shapes.check_heart_get,
    "withings/getdevice.json": shapes.check_devices,
}


def _keys(value) -> set[str]:
    """Every object key in a JSON value, timestamps (the series' keys) left out."""
    if isinstance(value, dict):
        return {k for k in value if not k.isdigit()} | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@pytest.mark.parametrize("path", sorted(WITHINGS))
def test_withings_fixture_has_the_documented_shape(path):
    WITHINGS[path](shapes.check_envelope(fixture(path)))


def test_whoop_profile_fixture_has_the_documented_shape():
    shapes.check_whoop_profile(fixture("whoop/profile_basic.json"))


@pytest.mark.parametrize("path", [*sorted(WITHINGS), "whoop/profile_basic.json"])
def test_every_fixture_key_is_named_in_the_api_notes(path):
    named = set(re.findall(r"`([a-z_0-9]+)`", API_NOTES))
    assert _keys(fixture(path)) - named == set()


def test_sleep_night_fixture_overlaps_and_agrees_on_shared_minutes():
    segments = fixture("withings/sleep_get_night.json")["body"]["series"]
    pairs = [(a, b) for a, b in zip(segments, segments[1:], strict=False) if a["enddate"] > b["startdate"]]
    assert len(pairs) == 1
    earlier, later = pairs[0]
    shared = set(earlier["hr"]) & set(later["hr"])
    assert shared and all(earlier["hr"][ts] == later["hr"][ts] for ts in shared)


def test_tracker_night_fixture_has_a_segment_without_a_requested_series():
    segments = fixture("withings/sleep_get_tracker.json")["body"]["series"]
    assert any("rr" not in s for s in segments if s["state"] != 0)
    assert all("snoring" not in s for s in segments)


def test_intraday_fixture_has_a_gap_and_samples_with_different_fields():
    series = fixture("withings/intraday_gaps.json")["body"]["series"]
    minutes = sorted(int(ts) for ts in series)
    assert max(b - a for a, b in zip(minutes, minutes[1:], strict=False)) > 30 * 60
    assert len({frozenset(sample) for sample in series.values()}) > 3


def test_device_fixture_has_a_low_battery_and_an_old_last_session():
    devices = fixture("withings/getdevice.json")["body"]["devices"]
    newest = max(d["last_session_date"] for d in devices if d["last_session_date"])
    assert any(d["battery"] == "low" for d in devices)
    assert any(d["last_session_date"] and newest - d["last_session_date"] > 7 * 86_400 for d in devices)
