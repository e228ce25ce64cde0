"""Malformed payloads, fuzzed from real-shaped records: stored or rejected, never a traceback."""

from __future__ import annotations

import copy
import json

import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from api_clients.errors import ApiError
from api_clients.whoop import WhoopClient
from mapping import whoop as mappers
from mapping import withings as withings_mapper
from models import Cycle, Recovery, Sleep, WithingsWeight, Workout
from tests.helpers import factories as f
from tests.helpers import loaders
from tests.helpers.api import WHOOP_URL, provider, store_with
from tests.helpers.factories import MAPPED_AT as NOW

WEIRD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=60),
    st.sampled_from(["\x00", "\udcff", "PENDING", "SCORED", "2025-13-45T99:00:00Z", "", "𝓦𝓗𝓞𝓞𝓟" * 30]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
BUILDERS = {
    "cycles": (f.cycle, mappers.cycle_to_row),
    "sleep": (f.sleep, mappers.sleep_to_row),
    "recovery": (f.recovery, mappers.recovery_to_row),
    "workout": (f.workout, mappers.workout_to_row),
}


def _mutate(record: dict, path: list[str], value, delete: bool) -> dict:
    record = copy.deepcopy(record)
    target = record
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            return record
        target = target[key]
    if delete:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return record


def _paths(record: dict, prefix=()) -> list[list[str]]:
    out = []
    for key, value in record.items():
        out.append([*prefix, key])
        if isinstance(value, dict):
            out += _paths(value, (*prefix, key))
    return out


@st.composite
def fuzzed(draw, kind: str):
    build, _ = BUILDERS[kind]
    record = build(
        draw(st.integers(0, 500)), state=draw(st.sampled_from(["SCORED", "PENDING_SCORE", "UNSCORABLE", "X"]))
    )
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(record)))
        record = _mutate(record, path, draw(WEIRD_VALUES), draw(st.booleans()))
    return record


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mappers_return_a_row_or_a_mapping_error(kind, data):
    record = data.draw(fuzzed(kind))
    try:
        row = BUILDERS[kind][1](record, now=NOW)
    except mappers.MappingError as exc:
        assert str(exc)
    else:
        json.dumps(row["raw"])  # what is stored as raw JSON must serialise


@st.composite
def fuzzed_group(draw):
    group = f.weight_group(draw(st.integers(1, 10**6)))
    for _ in range(draw(st.integers(1, 3))):
        measures = group.get("measures")
        if draw(st.booleans()) and isinstance(measures, list) and measures and isinstance(measures[0], dict):
            measure = measures[0]
            measure[draw(st.sampled_from(["value", "unit", "type"]))] = draw(WEIRD_VALUES)
        else:
            group = _mutate(group, [draw(st.sampled_from(list(group)))], draw(WEIRD_VALUES), draw(st.booleans()))
    return group


@settings(max_examples=200, deadline=None)
@given(group=fuzzed_group())
def test_withings_mapper_returns_rows_or_a_mapping_error(group):
    try:
        withings_mapper.measure_group_to_rows(group, 1, "Europe/Berlin", now=NOW)
    except mappers.MappingError:
        pass  # a rejection with its reason is the expected outcome for a broken group


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=st.lists(fuzzed("cycles"), min_size=1, max_size=5), group=fuzzed_group())
def test_valid_records_are_stored_beside_fuzzed_ones(session, bad, group):
    good = [f.cycle(600 + i) for i in range(3)]  # ids apart from the fuzzed ones (0-500)
    counts = loaders.load_cycles(session, good + bad)
    wcounts = loaders.load_withings_measures(session, [group, f.weight_group(42)], 1)
    session.flush()
    stored = set(session.scalars(select(Cycle.whoop_id)))
    assert {r["id"] for r in good} <= stored
    assert counts.inserted + counts.updated + counts.unchanged + counts.rejected == counts.fetched
    assert session.scalar(select(func.count()).select_from(WithingsWeight).where(WithingsWeight.grpid == 42)) == 1
    assert wcounts.rejected <= 1
    session.rollback()


@pytest.mark.parametrize("body", ['{"records": [', b'{"records": [\xff\xfe]}', "[]", '{"records": 5}', "null"])
def test_truncated_or_garbled_pages_are_clear_errors(body):
    with responses.RequestsMock() as mock:
        mock.get(f"{WHOOP_URL}/developer/v2/cycle", body=body, status=200)
        client = WhoopClient(provider("whoop"), store_with("whoop"), max_wait=0)
        with pytest.raises(ApiError):
            list(client.iter_collection("/developer/v2/cycle"))


def test_unknown_enum_values_are_kept_not_crashed(session):
    record = f.cycle(1)
    record["score_state"] = "RESCORING"  # not in the spec's enum: stored as sent, no score read
    sleep = f.sleep(1)
    sleep["nap"] = None
    loaders.load_cycles(session, [record])
    loaders.load_sleep(session, [sleep])
    loaders.load_recovery(session, [f.recovery(1, state="UNSCORABLE")])
    loaders.load_workout(session, [f.workout(1, sport="ジョギング")])
    session.commit()
    assert session.scalars(select(Cycle.score_state)).one() == "RESCORING"
    assert session.scalars(select(Cycle.strain)).one() is None
    assert session.scalars(select(Sleep.nap)).one() is None  # unknown, not False
    assert session.scalars(select(Recovery.recovery_score)).one() is None
    assert session.scalars(select(Workout.sport_name)).one() == "ジョギング"
