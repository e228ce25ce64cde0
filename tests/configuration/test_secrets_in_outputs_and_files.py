"""Secrets stay secret: not in logs, errors, --json or status output; private files on disk."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy.orm import Session

import etl
from configuration import settings
from models import OAuthToken
from storage.engine import make_engine


def _stored_tokens(url: str) -> list[str]:
    engine = make_engine(url)
    with Session(engine) as session:
        values = [v for t in session.query(OAuthToken) for v in (t.access_token, t.refresh_token) if v]
    engine.dispose()
    return values


def test_no_secret_in_verbose_logs_json_or_status(etl_env, db_url):
    seeds = [os.environ["WHOOP_REFRESH_TOKEN"], os.environ["WITHINGS_REFRESH_TOKEN"]]
    secrets = seeds + [os.environ["WHOOP_CLIENT_SECRET"], os.environ["WITHINGS_CLIENT_SECRET"]]
    run = CliRunner().invoke(etl.cli, ["--verbose", "--json"])
    assert run.exit_code == 0, run.output
    etl_env.expire_access_tokens()  # a second run refreshes again: more token values in flight
    again = CliRunner().invoke(etl.cli, ["--verbose", "--json"])
    status = CliRunner().invoke(etl.cli, ["status", "--json"])
    secrets += _stored_tokens(db_url)
    assert len(secrets) >= 8
    for text in (run.output, run.stderr, again.output, again.stderr, status.output):
        for secret in secrets:
            assert secret not in text


def test_reconnect_error_does_not_echo_the_refresh_token(etl_env, monkeypatch):
    monkeypatch.setenv("WHOOP_REFRESH_TOKEN", "dead-refresh-token-0123456789")
    result = CliRunner().invoke(etl.cli, ["--verbose", "--source", "whoop"])
    assert result.exit_code == 3
    assert "dead-refresh-token-0123456789" not in result.output
    assert "python etl.py connect whoop" in result.output


def test_database_file_folder_and_lock_files_are_private(tmp_path, monkeypatch, etl_env):
    path = tmp_path / "data" / "whoop.db"  # the default data/ folder: the only one the ETL creates
    monkeypatch.setattr(settings, "DEFAULT_SQLITE_PATH", path)
    monkeypatch.delenv("DATABASE_URL")
    assert CliRunner().invoke(etl.cli, ["--quiet"]).exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for extra in path.parent.iterdir():
        mode = stat.S_IMODE(extra.stat().st_mode)
        assert mode & 0o077 == 0, (extra, oct(mode))  # WAL/SHM inherit the database file's mode


def test_settings_repr_and_help_never_show_secrets(monkeypatch):
    monkeypatch.setenv("WHOOP_CLIENT_SECRET", "very-secret-value-1")
    monkeypatch.setenv("WITHINGS_REFRESH_TOKEN", "very-secret-value-2")
    current = settings.get_settings(read_dotenv=False)
    assert "very-secret-value" not in repr(current)
    assert "very-secret-value" not in CliRunner().invoke(etl.cli, ["--help"]).output


def test_env_file_is_ignored_by_git():
    ignore = (Path(__file__).resolve().parents[2] / ".gitignore").read_text().splitlines()
    assert ".env" in ignore and "data/" in ignore
