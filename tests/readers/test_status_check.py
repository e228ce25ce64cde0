"""`status --check`: exit 0 fresh, 1 stale or quarantined, 3 re-connect; one stderr line per problem."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

import etl
from configuration import clock
from dashboard.panels import page_zone
from models import AccountProvider, OAuthToken, Quarantine, SyncState, WithingsWeight
from storage import quarantine
from storage.engine import make_engine
from sync import resources
from tests.helpers.etl import run_etl


@pytest.fixture(autouse=True)
def _sandbox_lag(monkeypatch):
    """The sandbox's clock runs a day behind ours, so its newest records look a day older."""
    for resource in resources.RESOURCES:
        if resource.stale_after < timedelta(days=3):
            monkeypatch.setenv(f"STALE_AFTER_{resource.source.upper()}_{resource.name.upper()}", "3d")


def check(*args: str):
    result = CliRunner().invoke(etl.cli, ["status", "--check", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, [line for line in result.stderr.splitlines() if line.strip()]


def execute(db_url: str, statement) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(statement) if not isinstance(statement, str) else conn.exec_driver_sql(statement)
    engine.dispose()


def test_fresh_after_a_run_exits_0_and_says_nothing(etl_env):
    assert run_etl()[0] == 0
    code, out, err = check()
    assert (code, out, err) == (0, "", []), err
    code, out, err = check("--json")
    report = json.loads(out)
    assert code == 0 and report["exit_code"] == 0 and report["problems"] == []
    assert {r["resource"] for r in report["resources"]} == {r.name for r in resources.RESOURCES}
    assert report["resources"][0]["last_success_at"].count("T") == 1  # ISO 8601


def test_stale_resource_exits_1_with_one_line(etl_env, db_url):
    assert run_etl()[0] == 0
    execute(
        db_url,
        update(SyncState)
        .where(SyncState.resource == "cycles")
        .values(last_success_at=clock.utcnow() - timedelta(days=3)),
    )
    code, out, err = check()
    assert (code, err) == (1, ["WHOOP cycles last synced 3 days ago"])
    problems = json.loads(check("--json")[1])["problems"]
    assert problems == [
        {
            "source": "whoop",
            "resource": "cycles",
            "kind": "stale",
            "message": "WHOOP cycles last synced 3 days ago",
            "account": "default",  # every entry names its account
        }
    ]


def test_threshold_is_configurable_per_resource(etl_env, db_url, monkeypatch):
    assert run_etl()[0] == 0
    execute(
        db_url,
        update(SyncState)
        .where(SyncState.resource == "measures")
        .values(last_success_at=clock.utcnow() - timedelta(days=5)),
    )
    assert check()[0] == 1
    monkeypatch.setenv("STALE_AFTER_WITHINGS_MEASURES", "6d")
    assert check()[0] == 0
    monkeypatch.setenv("STALE_AFTER_WITHINGS_MEASURES", "a week")
    result = CliRunner().invoke(etl.cli, ["status", "--check"])
    assert result.exit_code == 2 and "STALE_AFTER_WITHINGS_MEASURES" in result.output


def test_never_synced_is_stale(etl_env):
    code, _, err = check()
    assert code == 1 and "WHOOP cycles has never synced" in err and len(err) == len(resources.RESOURCES)


def test_reconnect_error_exits_3(etl_env, db_url):
    assert run_etl()[0] == 0
    execute(
        db_url,
        update(SyncState)
        .where(SyncState.source == "withings")
        .values(
            status="error",
            error="withings: the refresh token was refused (status 503); "
            "re-connect with `python etl.py connect withings`",
        ),
    )
    code, _, err = check()
    assert code == 3 and len(err) == 1 and err[0].startswith("withings: the refresh token was refused")


def test_configured_provider_without_a_token_exits_3(etl_env, db_url, monkeypatch):
    assert run_etl()[0] == 0
    monkeypatch.delenv("WHOOP_REFRESH_TOKEN")
    execute(db_url, OAuthToken.__table__.delete().where(OAuthToken.provider == "whoop"))
    code, _, err = check()
    assert (code, err) == (3, ["whoop is not connected: run `python etl.py connect whoop`"])


def test_unconfigured_provider_is_not_checked(etl_env, monkeypatch):
    assert run_etl("--source", "whoop")[0] == 0
    monkeypatch.delenv("WITHINGS_CLIENT_ID")
    assert check() == (0, "", [])


DEFAULT_ID = "(SELECT id FROM account WHERE name = 'default')"  # a run files what it quarantines under its account


@pytest.mark.parametrize("count, expected", [(0, 0), (2, 1)])
def test_quarantined_records_exit_1(etl_env, db_url, count, expected):
    assert run_etl()[0] == 0
    for n in range(count):
        execute(
            db_url,
            "INSERT INTO quarantine (account_id, source, resource, record_key, fingerprint, payload, reason, "
            f"first_seen_at, last_seen_at, attempts) VALUES ({DEFAULT_ID}, 'withings', 'measures', 'grpid={n}', "
            f"'grpid={n}', '{{}}', 'weight out of bounds', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)",
        )
    code, _, err = check()
    assert code == expected
    assert err == (
        [] if not count else ["withings measures: 2 new records quarantined (python etl.py quarantine lists them)"]
    )


def _no_client_ids(monkeypatch) -> None:
    for name in ("WHOOP_CLIENT_ID", "WHOOP_CLIENT_SECRET", "WITHINGS_CLIENT_ID", "WITHINGS_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)


def test_a_monitoring_host_without_client_ids_judges_what_the_database_holds(etl_env, db_url, monkeypatch):
    assert run_etl()[0] == 0
    _no_client_ids(monkeypatch)
    for name in ("WHOOP_REFRESH_TOKEN", "WITHINGS_REFRESH_TOKEN"):
        monkeypatch.delenv(name)
    code, out, err = check("--json")
    report = json.loads(out)
    assert (code, err) == (0, []) and report["exit_code"] == 0
    assert {r["resource"] for r in report["resources"]} == {r.name for r in resources.RESOURCES}
    execute(
        db_url,
        update(SyncState)
        .where(SyncState.resource == "cycles")
        .values(last_success_at=clock.utcnow() - timedelta(days=3)),
    )
    assert check() == (1, "", ["WHOOP cycles last synced 3 days ago"])


def test_json_reports_an_empty_host_as_a_configuration_error(db_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    _no_client_ids(monkeypatch)
    code, out, err = check("--json")
    report = json.loads(out)
    assert code == report["exit_code"] == 2 and report["resources"] == []
    assert [p["kind"] for p in report["problems"]] == ["configuration"]
    assert err == [report["problems"][0]["message"]] and "nothing to check" in err[0]


def test_json_reports_a_malformed_setting_and_an_unreachable_database(db_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("ETL_LOOKBACK_DAYS", "a week")
    code, out, err = check("--json")
    report = json.loads(out)
    assert code == report["exit_code"] == 2 and report["problems"][0]["kind"] == "configuration"
    assert "ETL_LOOKBACK_DAYS must be a whole number" in report["problems"][0]["message"] and len(err) == 1
    monkeypatch.delenv("ETL_LOOKBACK_DAYS")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://postgres:pw-not-shown@127.0.0.1:9/whoop")
    monkeypatch.setenv("DB_CONNECT_TIMEOUT_SECONDS", "1")
    code, out, err = check("--json")
    report = json.loads(out)
    assert code == report["exit_code"] == 1 and report["problems"][0]["kind"] == "database"
    assert "cannot use DATABASE_URL (host 127.0.0.1:9" in err[0] and "pw-not-shown" not in out + err[0]


def test_only_items_new_since_acknowledged_fail_the_check(etl_env, db_url):
    assert run_etl()[0] == 0
    for n in range(3):
        execute(
            db_url,
            "INSERT INTO quarantine (account_id, source, resource, record_key, fingerprint, payload, reason, "
            f"first_seen_at, last_seen_at, attempts) VALUES ({DEFAULT_ID}, 'withings', 'measures', 'grpid={n}', "
            f"'grpid={n}', '{{\"grpid\": {n}}}', 'date out of bounds', CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP, 1)",
        )
    quarantine_cli = lambda *args: CliRunner().invoke(etl.cli, ["quarantine", *args])  # noqa: E731 - a one-line helper, named where it is used
    assert quarantine_cli("ack", "--all").exit_code == 0
    assert quarantine_cli("dismiss", "3").exit_code == 0
    code, out, err = check("--json")
    assert (code, err) == (0, [])
    assert json.loads(out)["quarantine"] == [
        {"source": "withings", "resource": "measures", "count": 2, "new": 0, "acknowledged": 2, "account": "default"}
    ]
    assert "2 records, 2 acknowledged" in CliRunner().invoke(etl.cli, ["status"]).stdout
    # A later run's retry finds another reason for one of them: it is new again.
    engine = make_engine(db_url)
    with Session(engine) as session:
        quarantine.quarantine_records(
            session,
            "withings",
            "measures",
            key_field="grpid",
            rejected=[quarantine.Rejected({"grpid": 1}, "missing measures")],
            user_id=session.execute(
                select(AccountProvider.user_id).where(AccountProvider.provider == "withings")
            ).scalar(),
        )
        session.commit()
    engine.dispose()
    code, _, err = check()
    assert (code, err) == (1, ["withings measures: 1 new record quarantined (python etl.py quarantine lists them)"])


def test_a_flagged_value_is_stored_and_does_not_fail_the_check(etl_env, db_url):
    assert run_etl()[0] == 0
    grpid = etl_env.add_weigh_in(0.4, manual=True)  # a typo in Health Mate: 0.4 kg
    code, summary, err = run_etl()
    assert code == 0, err
    engine = make_engine(db_url)
    with engine.connect() as conn:
        flag = conn.execute(select(WithingsWeight.flag).where(WithingsWeight.grpid == grpid)).scalar_one()
        held = conn.execute(select(func.count()).select_from(Quarantine)).scalar_one()
    assert (flag, held) == ("weight 0.4 kg below plausible 1-500 kg", 0)
    assert check() == (0, "", [])
    etl_env.edit_weigh_in(grpid, 80.0)  # corrected in Health Mate
    assert run_etl()[0] == 0
    with engine.connect() as conn:
        assert conn.execute(select(WithingsWeight.flag).where(WithingsWeight.grpid == grpid)).scalar_one() is None
    engine.dispose()


def test_status_with_nothing_configured_says_where_env_goes_and_exits_2(db_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    _no_client_ids(monkeypatch)
    result = CliRunner().invoke(etl.cli, ["status"])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and result.stdout == "" and len(lines) == 1
    assert "nothing to show" in lines[0] and "WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET" in lines[0]
    assert ".env" in lines[0] and "`python etl.py connect whoop`" in lines[0]


def test_status_shows_utc_or_with_local_time_the_dashboards_zone_and_names_it(etl_env, db_url):
    assert run_etl()[0] == 0
    utc = CliRunner().invoke(etl.cli, ["status"]).stdout
    local = CliRunner().invoke(etl.cli, ["status", "--local-time"]).stdout
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            zone = page_zone(conn)
    finally:
        engine.dispose()
    assert "(times in UTC)" in utc and "Latest weight:" in utc and " UTC (" in utc
    assert f"(times in {zone.label(clock.utcnow())}, the dashboard's zone, from your" in local
    weight = next(line for line in local.splitlines() if line.startswith("Latest weight:"))
    assert " UTC (" not in weight or zone.name == "UTC"
