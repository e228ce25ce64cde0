"""Database deadlines and engine safety: connect and statement timeouts, hidden SQL parameters."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from storage.engine import make_engine

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections (the kernel's backlog) and never answers a byte."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


@pytest.mark.parametrize("command", [[], ["status"]])
def test_silent_postgres_ends_within_its_deadline_naming_the_setting_and_host(silent_server, command):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHOOP_", "WITHINGS_", "DATABASE_URL"))}
    env.update(
        {
            "WHOOP_PLATFORM_NO_DOTENV": "1",
            "DB_CONNECT_TIMEOUT_SECONDS": "2",
            "DATABASE_URL": f"postgresql+psycopg2://etl:pw-sekrit@127.0.0.1:{silent_server}/whoop",
            "WHOOP_CLIENT_ID": "id",
            "WHOOP_CLIENT_SECRET": "client-secret-value",
        }
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "etl.py", *command], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60
    )  # before the fix: no connect timeout, a hang
    assert time.monotonic() - started < 60
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "DATABASE_URL" in output and f"127.0.0.1:{silent_server}" in output
    assert "pw-sekrit" not in output and "Traceback" not in output


def test_unreachable_server_is_exit_1_naming_the_setting_and_host(monkeypatch):
    from click.testing import CliRunner

    import etl

    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://nobody:sekrit-pw@127.0.0.1:1/none")
    result = CliRunner().invoke(etl.cli, ["status"])
    assert result.exit_code == 1
    assert "DATABASE_URL" in result.output and "127.0.0.1:1" in result.output
    assert "sekrit-pw" not in result.output


def test_statement_timeout_on_postgres_busy_timeout_on_sqlite(db_url):
    engine = make_engine(db_url, statement_timeout=1)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
                return
            with pytest.raises(OperationalError, match="statement timeout"):  # pg_sleep(5) cut at 1 s
                conn.execute(text("SELECT pg_sleep(5)"))
    finally:
        engine.dispose()


def test_sql_parameters_never_appear_in_error_messages(db_url):
    from configuration import clock

    engine = make_engine(db_url)
    insert = text(
        "INSERT INTO oauth_token (account_id, provider, user_id, access_token, refresh_token, updated_at) "
        "VALUES ((SELECT id FROM account WHERE name = 'default'), 'whoop', 1, :a, :r, :t)"
    )
    try:
        with engine.begin() as conn:
            conn.execute(insert, {"a": "first-access", "r": "first-refresh", "t": clock.utcnow()})
        with pytest.raises(DBAPIError) as raised, engine.begin() as conn:  # a duplicate (provider, user_id)
            conn.execute(
                insert, {"a": "access-token-in-a-parameter", "r": "refresh-in-a-parameter", "t": clock.utcnow()}
            )
        assert "in-a-parameter" not in str(raised.value)
        assert "SQL parameters hidden" in str(raised.value)
    finally:
        engine.dispose()


def test_read_only_engine_stays_read_only_on_a_reused_connection(db_url):
    engine = make_engine(db_url, read_only=True)
    try:
        for _ in range(2):  # the second checkout reuses the pooled connection
            with pytest.raises(DBAPIError, match="read-only|readonly"), engine.begin() as conn:
                conn.execute(text("DELETE FROM sync_state"))
    finally:
        engine.dispose()
