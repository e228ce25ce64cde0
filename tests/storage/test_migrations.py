"""Alembic migrations on SQLite and PostgreSQL: pre-fix duplicates collapse, keys enforced."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import insert, inspect, text
from sqlalchemy.exc import IntegrityError

from models import Base
from storage import migrate
from storage.engine import SCHEMA_HEAD, current_revision, ensure_schema, make_engine


def _insert_rows(conn, table, rows):
    meta = Base.metadata.tables[table]
    conn.execute(insert(meta), rows)


def _whoop_row(**kw):
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    row = {
        "user_id": 1,
        "raw": json.dumps({}),
        "synced_at": now,
        "score_state": "SCORED",
        "created_at": now,
        "updated_at": now,
        "timezone_offset": "Z",
    }
    row.update(kw)
    return row


def _upgrade_to_pre_fix(engine):
    migrate.upgrade(engine, migrate.PRE_FIX_REVISION)


def script_head() -> str:
    """The newest revision in migrations/versions."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


def test_schema_head_constant_matches_the_scripts():
    assert SCHEMA_HEAD == script_head()


def test_upgrade_collapses_duplicates_keeping_the_newest(empty_db_url):
    engine = make_engine(empty_db_url)
    _upgrade_to_pre_fix(engine)
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    with engine.begin() as conn:
        recovery = Base.metadata.tables["recovery"]
        conn.execute(
            recovery.insert(),
            [
                _whoop_row(whoop_cycle_id=7, whoop_sleep_id="s7", recovery_score=10.0, updated_at=t0),
                _whoop_row(
                    whoop_cycle_id=7, whoop_sleep_id="s7", recovery_score=55.0, updated_at=t0 + timedelta(hours=5)
                ),
                _whoop_row(
                    whoop_cycle_id=7, whoop_sleep_id="s7", recovery_score=30.0, updated_at=t0 + timedelta(hours=1)
                ),
                _whoop_row(whoop_cycle_id=8, whoop_sleep_id="s8", recovery_score=60.0, updated_at=t0),
            ],
        )
        cycles = Base.metadata.tables["cycles"]
        conn.execute(
            cycles.insert(),
            [
                _whoop_row(whoop_id=1, start=t0, strain=1.0, updated_at=t0),
                _whoop_row(whoop_id=1, start=t0, strain=2.0, updated_at=t0),  # same updated_at: newest id wins
            ],
        )
        weight = Base.metadata.tables["withings_weight"]
        base = {"user_id": 1, "raw": json.dumps({}), "synced_at": t0, "measured_at": t0}
        conn.execute(
            weight.insert(),
            [
                {**base, "grpid": 5, "weight_kg": 80.0, "modified_at": t0},
                {**base, "grpid": 5, "weight_kg": 79.0, "modified_at": t0 + timedelta(days=1)},
            ],
        )
    assert ensure_schema(engine) is True
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT whoop_cycle_id, recovery_score FROM recovery ORDER BY whoop_cycle_id")).all()
        assert [tuple(r) for r in rows] == [(7, 55.0), (8, 60.0)]
        assert conn.execute(text("SELECT strain FROM cycles")).scalars().all() == [2.0]
        assert conn.execute(text("SELECT weight_kg FROM withings_weight")).scalars().all() == [79.0]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            Base.metadata.tables["recovery"].insert(),
            [_whoop_row(whoop_cycle_id=7, whoop_sleep_id="other", updated_at=t0)],
        )
    uniques = {tuple(u["column_names"]) for u in inspect(engine).get_unique_constraints("recovery")}
    assert {("user_id", "whoop_cycle_id"), ("user_id", "whoop_sleep_id")} <= uniques
    assert {"sync_state", "oauth_token"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_unversioned_pre_fix_database_is_adopted(empty_db_url):
    engine = make_engine(empty_db_url)
    _upgrade_to_pre_fix(engine)
    with engine.begin() as conn:  # what the pre-fix release left: tables, no alembic_version
        conn.execute(text("DROP TABLE alembic_version"))
    ensure_schema(engine)
    assert current_revision(engine) == SCHEMA_HEAD
    engine.dispose()


def test_ensure_schema_is_one_query_at_head(empty_db_url):
    engine = make_engine(empty_db_url)
    assert ensure_schema(engine) is True
    assert ensure_schema(engine) is False
    engine.dispose()


def test_models_match_the_migrated_schema(empty_db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_engine(empty_db_url)
    ensure_schema(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    engine.dispose()


def test_downgrade_and_upgrade_again(empty_db_url):
    engine = make_engine(empty_db_url)
    ensure_schema(engine)
    cfg = migrate.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    ensure_schema(engine)
    assert current_revision(engine) == SCHEMA_HEAD
    engine.dispose()


def test_upgrade_from_1_1_1_adds_fidelity_tables_and_resets_the_withings_cursor(empty_db_url):
    engine = make_engine(empty_db_url)
    migrate.upgrade(engine, "0002_v1_1_1")
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    with engine.begin() as conn:  # a 1.1.1 database: a sleep, a weigh-in, a poisoned cursor
        conn.execute(
            text(
                "INSERT INTO sleep (user_id, raw, synced_at, score_state, created_at, updated_at, "
                "whoop_id, nap, start, \"end\") VALUES (1, '{}', :t, 'SCORED', :t, :t, 's1', false, :t, :t)"
            ),
            {"t": t0},
        )
        conn.execute(
            text(
                "INSERT INTO sync_state (source, resource, user_id, cursor, status, window_end) "
                "VALUES ('withings', 'measures', 1, :c, 'ok', :t), ('whoop', 'sleep', 1, NULL, 'ok', :t)"
            ),
            {"c": str(10**20), "t": t0},
        )
    assert ensure_schema(engine) is True
    assert current_revision(engine) == SCHEMA_HEAD
    columns = {
        t: {c["name"] for c in inspect(engine).get_columns(t)}
        for t in (
            "cycles",
            "sleep",
            "recovery",
            "workout",
            "withings_weight",
            "withings_heart_rate",
            "withings_measure",
        )
    }
    assert all("deleted_at" in cols for cols in columns.values())
    assert {"quarantine", "withings_measure"} <= set(inspect(engine).get_table_names())
    with engine.begin() as conn:
        assert conn.execute(text("SELECT cursor FROM sync_state WHERE source = 'withings'")).scalar() is None
        assert conn.execute(text("SELECT window_end FROM sync_state WHERE source = 'whoop'")).scalar() is not None
        conn.execute(text("UPDATE sleep SET nap = NULL"))  # nullable now: a missing nap is unknown
        assert conn.execute(text("SELECT whoop_id FROM sleep")).scalar() == "s1"
    with pytest.raises(IntegrityError), engine.begin() as conn:  # the measure key holds with no position
        row = {
            "user_id": 1,
            "raw": "{}",
            "synced_at": t0,
            "grpid": 5,
            "measured_at": t0,
            "meastype": 54,
            "position": -1,
            "value": 97.0,
            "value_raw": 97,
            "unit": 0,
        }
        conn.execute(Base.metadata.tables["withings_measure"].insert(), [row, row])
    engine.dispose()


def test_dashboard_over_a_1_1_1_database_asks_for_the_upgrade(empty_db_url):
    from dashboard.summary import load_summary, upgrade_needed

    engine = make_engine(empty_db_url)
    migrate.upgrade(engine, "0002_v1_1_1")
    summary = load_summary(engine)
    assert summary["empty"] and all(row["warning"] == upgrade_needed() for row in summary["freshness"])
    engine.dispose()


def test_daily_view_files_existing_withings_rows_under_their_local_day(empty_db_url):
    engine = make_engine(empty_db_url)
    migrate.upgrade(engine, "0005_flags_quarantine_review")
    evening = datetime(2025, 3, 10, 1, 0, tzinfo=timezone.utc)  # 21:00 on the 9th in New York
    with engine.begin() as conn:
        conn.execute(
            Base.metadata.tables["withings_weight"]
            .insert()
            .values(
                user_id=1,
                grpid=1,
                measured_at=evening,
                timezone="America/New_York",
                weight_kg=79.4,
                attrib=0,
                raw=json.dumps({}),
                synced_at=evening,
            )
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        assert "daily" in inspect(conn).get_view_names()
        assert str(conn.execute(text("SELECT local_date FROM withings_weight")).scalar())[:10] == "2025-03-09"
        day, weight = conn.execute(text("SELECT day, weight FROM daily")).one()
    assert (str(day)[:10], weight) == ("2025-03-09", 79.4)
    cfg = migrate.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005_flags_quarantine_review")
    insp = inspect(engine)
    assert "daily" not in insp.get_view_names()
    assert "local_date" not in {c["name"] for c in insp.get_columns("withings_weight")}
    engine.dispose()


def test_daily_detail_is_a_new_view_beside_daily_and_goes_alone(empty_db_url):
    engine = make_engine(empty_db_url)
    migrate.upgrade(engine, "0017_bed_events")
    morning = datetime(2025, 3, 10, 11, 0, tzinfo=timezone.utc)
    with engine.begin() as conn:
        conn.execute(
            Base.metadata.tables["withings_weight"]
            .insert()
            .values(
                user_id=1,
                grpid=1,
                measured_at=morning,
                timezone="UTC",
                local_date=morning.date(),
                weight_kg=79.4,
                attrib=0,
                raw=json.dumps({}),
                synced_at=morning,
            )
        )
        conn.execute(
            Base.metadata.tables["withings_workout"]
            .insert()
            .values(user_id=1, withings_id=5, start=morning, date=morning.date(), raw=json.dumps({}), synced_at=morning)
        )
        daily_before = [tuple(r) for r in conn.execute(text("SELECT * FROM daily"))]
    migrate.upgrade(engine)
    with engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(text("SELECT * FROM daily"))] == daily_before  # unchanged
        day, weight, workouts = conn.execute(text("SELECT day, weight, withings_workouts FROM daily_detail")).one()
    assert (str(day)[:10], weight, workouts) == ("2025-03-10", 79.4, 1)
    cfg = migrate.alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0017_bed_events")
    views = inspect(engine).get_view_names()
    assert "daily_detail" not in views and "daily" in views
    engine.dispose()
