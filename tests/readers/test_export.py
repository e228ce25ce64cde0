"""`export`: every table but the tokens, ISO 8601 times with offsets, filters, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import json
from datetime import datetime

import pytest
from click.testing import CliRunner

from etl import cli
from readers.export import iso
from storage.engine import make_engine
from tests.helpers.data import SECRET, fill


@pytest.fixture
def filled(db_url, monkeypatch):
    fill(db_url)
    monkeypatch.setenv("DATABASE_URL", db_url)
    return db_url


def _export(*args):
    result = CliRunner().invoke(cli, ["export", *args], catch_exceptions=False)
    return result


def test_all_as_csv_writes_every_data_table_and_never_the_tokens(filled, tmp_path):
    tmp_path = tmp_path / "out"
    result = _export("all", "--format", "csv", "--output", str(tmp_path))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    from sync.resources import data_tables

    assert names == sorted([f"{t.name}.csv" for t in data_tables()] + ["sync_state.csv"])
    for path in tmp_path.iterdir():
        assert SECRET not in path.read_text()
        assert path.stat().st_mode & 0o077 == 0  # health data: the user's alone
    cycles = list(csv.DictReader((tmp_path / "cycles.csv").open()))
    assert len(cycles) == 5
    assert cycles[0]["start"] == "2025-03-01T06:00:00+00:00"
    assert cycles[0]["timezone_offset"] == "-05:00"
    assert json.loads(cycles[0]["raw"])["id"] == 93845
    assert "cycles: 5 rows" in result.output


def test_one_table_as_json_lines_to_stdout(filled):
    result = _export("withings_weight", "--format", "jsonl", "--output", "-")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 5 and rows[0]["weight_kg"] == 80.5
    assert datetime.fromisoformat(rows[0]["measured_at"]).utcoffset() is not None
    assert rows[0]["raw"]["grpid"] == 100  # JSON stays JSON


def test_since_keeps_the_newer_records(filled):
    result = _export("cycles", "--format", "jsonl", "--output", "-", "--since", "2025-03-03")
    assert [json.loads(line)["start"][:10] for line in result.stdout.splitlines()] == [
        "2025-03-03",
        "2025-03-04",
        "2025-03-05",
    ]


def test_tokens_are_refused_even_by_name(filled, tmp_path):
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    result = _export("oauth_token", "--output", str(tmp_path))
    assert result.exit_code == 2 and "never exported" in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_table_names_the_valid_ones(filled):
    result = _export("cycle", "--output", "-")
    assert result.exit_code == 2 and "cycles" in result.output


def test_deleted_rows_and_quarantine_only_when_asked(filled, tmp_path):
    from datetime import datetime, timezone

    from sqlalchemy.orm import Session

    from models import Cycle, Quarantine

    engine = make_engine(filled)
    now = datetime.now(timezone.utc)
    with Session(engine) as session:
        session.query(Cycle).filter(Cycle.whoop_id == 93845).update({"deleted_at": now})
        session.add(
            Quarantine(
                source="withings",
                resource="measures",
                record_key="grpid=1",
                fingerprint="f",
                payload="{}",
                reason="weight out of range",
                first_seen_at=now,
                last_seen_at=now,
                attempts=1,
            )
        )
        session.commit()
    engine.dispose()
    assert _export("all", "--output", str(tmp_path / "a")).exit_code == 0
    assert not (tmp_path / "a" / "quarantine.csv").exists()
    assert len((tmp_path / "a" / "cycles.csv").read_text().splitlines()) == 1 + 4
    assert _export("all", "--output", str(tmp_path / "b"), "--include-deleted", "--include-quarantined").exit_code == 0
    assert len((tmp_path / "b" / "cycles.csv").read_text().splitlines()) == 1 + 5
    assert "weight out of range" in (tmp_path / "b" / "quarantine.csv").read_text()


def test_a_missing_database_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'nothing.db'}")
    result = _export("all", "--output", str(tmp_path / "out"))
    assert result.exit_code == 1 and "(run `python etl.py` once to create and fill it)" in result.output
    assert not (tmp_path / "nothing.db").exists()  # export never creates a database


def test_iso_gives_naive_utc_times_an_offset():
    assert iso(datetime(2025, 1, 2, 3, 4, 5)) == "2025-01-02T03:04:05+00:00"


# The `daily` view's columns as the README documents them: people's SQL depends on them.
DAILY_COLUMNS = [
    "day",
    "whoop_user_id",
    "withings_user_id",
    "recovery",
    "hrv",
    "resting_hr",
    "spo2",
    "skin_temp",
    "strain",
    "sleep_performance",
    "sleep_hours",
    "respiratory_rate",
    "withings_sleep_hours",
    "sleep_score",
    "steps",
    "distance_km",
    "weight",
    "body_fat",
    "bp_systolic",
    "bp_diastolic",
    "heart_rate",
]


def test_daily_is_one_row_per_local_day_with_the_documented_columns(filled, tmp_path):
    result = _export("daily", "--format", "csv", "--output", str(tmp_path))
    assert result.exit_code == 0, result.output
    with (tmp_path / "daily.csv").open() as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == DAILY_COLUMNS and "daily: 5 rows" in result.output
    # WHOOP's sleep ends at 06:00 UTC, 01:00 in its -05:00 offset; the Paris weigh-in at 07:00 local.
    assert [r["day"] for r in rows] == [f"2025-03-0{n}" for n in range(1, 6)]  # one row a day, both providers
    assert {(r["whoop_user_id"], r["withings_user_id"]) for r in rows} == {("10129", "10129")}
    first = rows[0]
    assert (first["weight"], first["body_fat"], first["recovery"], first["strain"]) == ("80.5", "21.0", "44.0", "12.5")
    assert (first["bp_systolic"], first["bp_diastolic"], first["heart_rate"]) == ("121.0", "80.0", "64.0")
    assert round(float(first["sleep_hours"]), 3) == round((30272735 - 1403507) / 3_600_000, 3)
    assert first["steps"] == "" and first["withings_sleep_hours"] == ""  # no data: empty, never zero


def test_daily_since_keeps_the_later_days(filled):
    result = _export("daily", "--format", "jsonl", "--output", "-", "--since", "2025-03-04")
    assert [json.loads(line)["day"] for line in result.stdout.splitlines()] == ["2025-03-04", "2025-03-05"]
