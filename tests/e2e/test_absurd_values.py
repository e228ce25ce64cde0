"""Absurd API values (impossible dates, NaN, overflowing numbers) through the real CLI and the sandbox:
kept aside, reported, never wedging."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

import etl
from dashboard.summary import load_summary
from models import Quarantine, SyncState
from storage.engine import make_engine
from tests.helpers.etl import by_resource, run_etl

YEAR_9999 = 253402214400  # 9999-12-31


def _poison(sandbox) -> None:
    """Absurd values in real-shaped records the sandbox already serves."""
    history = sandbox.history
    history.collections["cycle"].newest(3)[1]["start"] = "-1199-03-01T06:00:00.000Z"
    history.collections["sleep"].newest(3)[1]["end"] = "1970-01-01T00:00:00.000Z"
    history.collections["workout"].newest(2)[1]["gps_trace_scale"] = float("inf")  # `1e999` on the wire
    sandbox.add_weigh_in(79.0, at=YEAR_9999)


def _held(url: str) -> dict[str, list[str]]:
    engine = make_engine(url)
    with Session(engine) as session:
        out: dict[str, list[str]] = {}
        for q in session.scalars(select(Quarantine)):
            out.setdefault(q.resource, []).append(q.reason)
    engine.dispose()
    return out


def test_absurd_values_are_kept_aside_and_every_run_succeeds(etl_env, db_url, monkeypatch):
    _poison(etl_env)
    monkeypatch.setattr("sandbox.withings_api.unix", lambda moment: 10**20)  # updatetime 10^20
    code, summary, err = run_etl()
    assert code == 0, err  # documented: a run that stored everything it could exits 0
    resources = by_resource(summary)
    assert all(r["status"] == "ok" for r in resources.values())
    assert {name: r["quarantined"] for name, r in resources.items()} == {
        "cycles": 1,
        "recovery": 0,
        "sleep": 1,
        "workout": 1,
        "body": 0,
        "measures": 1,
        "activity": 0,
        "sleep_summary": 0,
        "sleep_series": 0,
        "intraday": 0,
        "workouts": 0,
        "ecg": 0,
        "devices": 0,
        "profile": 0,
    }
    held = _held(db_url)
    assert "start is not an ISO-8601" in held["cycles"][0] and "end out of bounds" in held["sleep"][0]
    assert "not a finite number" in held["workout"][0] and "date out of bounds" in held["measures"][0]
    engine = make_engine(db_url)
    with Session(engine) as session:
        cursor = session.scalars(
            select(SyncState.cursor).where(SyncState.source == "withings", SyncState.resource == "measures")
        ).one()
    assert int(cursor) < 10**11  # the cursor did not move to 10^20

    code, summary, err = run_etl()  # the next run: no OverflowError, nothing wedged
    assert code == 0, err
    assert by_resource(summary)["measures"]["quarantined"] == 1

    status = CliRunner().invoke(etl.cli, ["status"])
    assert status.exit_code == 0, status.output
    assert "Quarantine" in status.output and "withings measures: 1 record" in status.output
    assert "-" not in status.output.split("Latest weight:")[1].split("ago")[0].split("(")[-1]
    page = load_summary(make_engine(db_url, read_only=True))
    assert page["weight"]["kg"] != 79.0  # the 9999 weigh-in is not data
    assert any("quarantined" in line for row in page["freshness"] for line in row["quarantine"])
    engine.dispose()


def test_quiet_prints_one_line_per_resource_with_rejects(etl_env):
    _poison(etl_env)
    result = CliRunner().invoke(etl.cli, ["--quiet"], catch_exceptions=False)
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if "etl.rejects" in line]
    assert len(lines) == 4, result.stderr
    assert all("kept in the quarantine" in line and "python etl.py status" in line for line in lines)
