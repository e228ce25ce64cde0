"""etl.py command line: every option has help, every exit code is reachable and documented."""

from __future__ import annotations

import json
import os
import stat
import threading

import click
import pytest
from click.testing import CliRunner

import etl
from storage.engine import make_engine
from sync import lock, resources
from sync.lock import run_lock
from tests.helpers.etl import by_resource, root_commands, run_etl, table_counts


def _commands(group: click.Group):
    yield group
    yield from root_commands().values()


def test_every_command_and_option_has_help():
    for command in _commands(etl.cli):
        assert command.help, command.name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{command.name} {param.opts}"


def test_help_documents_the_exit_codes():
    result = CliRunner().invoke(etl.cli, ["--help"])
    assert result.exit_code == 0
    for code in ("0 all synced", "1 some resource failed", "2 usage", "3 a provider", "75 another run"):
        assert code in " ".join(result.output.split())


@pytest.mark.parametrize(
    "args",
    [
        ["--since", "yesterday"],
        ["--since", "7d", "--full"],
        ["--source", "fitbit"],
        ["--wait", "-1"],
        ["--bogus"],
        ["connect", "garmin"],
    ],
)
def test_usage_errors_exit_2(args, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    result = CliRunner().invoke(etl.cli, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_no_configured_source_is_a_configuration_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    result = CliRunner().invoke(etl.cli, [])
    assert result.exit_code == 2
    assert "WHOOP_CLIENT_ID" in result.output and "skipped" in result.stderr


def test_malformed_setting_is_a_configuration_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ETL_LOOKBACK_DAYS", "seven")
    result = CliRunner().invoke(etl.cli, [])
    assert result.exit_code == 2 and "ETL_LOOKBACK_DAYS" in result.output


def test_unconfigured_source_is_skipped_with_one_line(etl_env, monkeypatch):
    monkeypatch.delenv("WITHINGS_CLIENT_SECRET")
    code, summary, err = run_etl()
    assert code == 0
    assert [r["source"] for r in summary["resources"]] == ["whoop"] * len(resources.of_source("whoop"))
    assert "withings: skipped (WITHINGS_CLIENT_ID / WITHINGS_CLIENT_SECRET not set)" in err


def test_source_option_limits_the_run(etl_env, db_url):
    code, summary, _ = run_etl("--source", "withings")
    assert code == 0 and {r["source"] for r in summary["resources"]} == {"withings"}
    assert table_counts(db_url)["cycles"] == 0


def test_since_option_sets_the_window(etl_env):
    code, summary, _ = run_etl("--since", "36h")
    assert code == 0
    assert {r["window_mode"] for r in summary["resources"]} == {"since"}


def test_dead_refresh_token_exits_3_with_the_reconnect_command(etl_env, monkeypatch):
    monkeypatch.setenv("WHOOP_REFRESH_TOKEN", "not-a-valid-refresh-token")
    code, summary, err = run_etl("--source", "whoop")
    assert code == 3
    errors = " ".join(r["error"] or "" for r in summary["resources"])
    assert "python etl.py connect whoop" in errors
    assert "not-a-valid-refresh-token" not in errors + err


def test_not_connected_exits_3(etl_env, monkeypatch):
    monkeypatch.delenv("WITHINGS_REFRESH_TOKEN")
    code, summary, _ = run_etl("--source", "withings")
    assert code == 3
    assert "python etl.py connect withings" in summary["resources"][0]["error"]


def test_second_run_exits_75_while_the_lock_is_held(etl_env, db_url):
    engine = make_engine(db_url)
    with run_lock(engine):
        code, _, err = run_etl()
    assert code == 75 and "another ETL run" in err
    engine.dispose()


def test_wait_runs_after_the_first_run_releases_the_lock(etl_env, db_url, monkeypatch):
    engine = make_engine(db_url)
    held, waiting = threading.Event(), threading.Event()
    announce = lock._waiting

    def waits(what, wait):  # the run found the lock held and starts to wait for it
        announce(what, wait)
        waiting.set()

    monkeypatch.setattr(lock, "_waiting", waits)

    def hold():
        with run_lock(engine):
            held.set()
            waiting.wait(timeout=60)  # released only once the run waits for it

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(timeout=30)
    code, _, err = run_etl("--wait", "30")
    holder.join()
    assert waiting.is_set() and code == 0, err
    engine.dispose()


def test_quiet_prints_nothing_on_success_and_log_file_is_private(etl_env, tmp_path):
    log_file = tmp_path / "etl.log"
    result = CliRunner().invoke(etl.cli, ["--quiet", "--log-file", str(log_file)])
    assert result.exit_code == 0
    assert result.output == ""
    assert stat.S_IMODE(os.stat(log_file).st_mode) == 0o600


def test_plain_run_logs_timestamped_lines_and_a_summary_off_a_terminal(etl_env):
    result = CliRunner().invoke(etl.cli, [])
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(line[:4].isdigit() and "T" in line[:11] for line in lines)
    assert any("whoop cycles: ok fetched=" in line for line in lines)


def test_status_command_shows_the_latest_weight(etl_env):
    assert run_etl()[0] == 0
    result = CliRunner().invoke(etl.cli, ["status"])
    assert result.exit_code == 0
    assert "Latest weight:" in result.output and " kg, measured " in result.output
    assert "whoop" in result.output and "never" not in result.output.split("Latest")[0]
    as_json = json.loads(CliRunner().invoke(etl.cli, ["status", "--json"]).output)
    assert as_json["latest_weight"]["kg"] > 30


def test_database_down_is_a_clear_error(etl_env, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://nobody:sekrit-pw@127.0.0.1:1/none")
    result = CliRunner().invoke(etl.cli, [])
    assert result.exit_code == 1
    assert "cannot" in result.output and "Traceback" not in result.output
    assert "sekrit-pw" not in result.output


def test_summary_json_has_per_resource_counts(etl_env):
    code, summary, _ = run_etl()
    assert code == 0
    cycles = by_resource(summary)["cycles"]
    assert set(cycles) >= {
        "fetched",
        "inserted",
        "updated",
        "unchanged",
        "rejected",
        "window_start",
        "window_end",
        "seconds",
        "status",
    }
