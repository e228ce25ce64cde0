"""No token or client secret reaches any output, whatever fails: a search of every line and file."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner
from sqlalchemy import text

import etl
from configuration import clock
from storage.engine import make_engine

PROJECT = Path(__file__).resolve().parents[2]
# The sandbox's access and refresh tokens (WHOOP wa_/wr_, Withings na_/nr_): every one it issues.
SANDBOX_TOKEN = re.compile(r"\b(?:wa|wr|na|nr)_[A-Za-z0-9_-]{20,}")
CLIENT_SECRETS = ("sandbox-whoop-secret", "sandbox-withings-secret")


def _deny_token_writes(engine) -> None:
    """Make oauth_token refuse every write, as a database gone read-only (failover, full disk) does."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for op in ("INSERT", "UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER deny_{op.lower()} BEFORE {op} ON oauth_token "
                    "BEGIN SELECT RAISE(ABORT, 'attempt to write a readonly database'); END"
                )
            return
        conn.exec_driver_sql(
            "CREATE FUNCTION deny_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'cannot execute UPDATE in a read-only transaction' "
            "USING ERRCODE = '25006'; END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER deny_write BEFORE INSERT OR UPDATE OR DELETE ON oauth_token "
            "FOR EACH ROW EXECUTE FUNCTION deny_write()"
        )


def _allow_token_writes(engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for op in ("insert", "update", "delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS deny_{op}")
            return
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS deny_write ON oauth_token")
        conn.exec_driver_sql("DROP FUNCTION IF EXISTS deny_write()")


def _etl(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WHOOP_PLATFORM_NO_DOTENV": "1"}
    return subprocess.run(
        [sys.executable, "etl.py", *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120
    )


def _stored_errors(engine) -> str:
    with engine.connect() as conn:
        return " ".join(e or "" for e in conn.execute(text("SELECT error FROM sync_state")).scalars())


def _assert_no_secret(texts: dict[str, str], secrets: tuple[str, ...] = ()) -> None:
    for where, value in texts.items():
        assert not SANDBOX_TOKEN.search(value), f"a token in {where}: {SANDBOX_TOKEN.search(value).group()}"
        for secret in (*CLIENT_SECRETS, *secrets):
            assert secret not in value, f"{secret!r} in {where}"


def test_failed_token_save_prints_no_token_anywhere(etl_env, db_url, tmp_path):
    """Before: the error line printed the UPDATE's parameters, both new tokens, without --verbose."""
    log_file = tmp_path / "etl.log"
    log_file.write_text("")
    os.chmod(log_file, 0o644)  # an existing, too-open log file is tightened
    assert _etl("--quiet").returncode == 0  # tokens stored
    engine = make_engine(db_url)
    outputs = {}
    try:
        _deny_token_writes(engine)
        etl_env.expire_access_tokens()  # the next request gets a 401: refresh, then the save fails
        for args in (["--verbose", "--log-file", str(log_file)], ["--json"], []):
            result = _etl(*args)
            assert result.returncode != 0
            outputs[f"{args} stdout"], outputs[f"{args} stderr"] = result.stdout, result.stderr
        status, status_json = _etl("status"), _etl("status", "--json")
        outputs.update(
            {
                "status": status.stdout + status.stderr,
                "status --json": status_json.stdout,
                "log file": log_file.read_text(),
                "sync_state.error": _stored_errors(engine),
            }
        )
    finally:
        _allow_token_writes(engine)
        engine.dispose()
    assert "read" in outputs["['--json'] stdout"]  # the failure itself is reported
    assert json.loads(outputs["['--json'] stdout"])["exit_code"] != 0
    _assert_no_secret(outputs)
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600


SEED = "seed-refresh-token-0123456789abcdef"
ACCESS = "stored-access-token-0123456789abcdef"


def _whoop_env(monkeypatch, db_url) -> None:
    for key, value in {
        "DATABASE_URL": db_url,
        "WHOOP_CLIENT_ID": "client-id",
        "WHOOP_CLIENT_SECRET": "client-secret-xyz",
        "WHOOP_API_BASE_URL": "https://whoop.test",
    }.items():
        monkeypatch.setenv(key, value)


def _run_modes(tmp_path) -> dict[str, str]:
    log_file = tmp_path / "hostile.log"
    outputs = {}
    for args in (["--verbose", "--json", "--log-file", str(log_file)], ["--source", "whoop"]):
        result = CliRunner().invoke(etl.cli, args)
        assert result.exit_code in (1, 3), result.output
        outputs[f"{args} stdout"], outputs[f"{args} stderr"] = result.stdout, result.stderr
    outputs["log file"] = log_file.read_text()
    return outputs


def test_refused_refresh_echoing_the_token_and_secret_prints_neither(mock, db_url, monkeypatch, tmp_path):
    _whoop_env(monkeypatch, db_url)
    monkeypatch.setenv("WHOOP_REFRESH_TOKEN", SEED)

    def echo(request):  # a hostile token endpoint: its error repeats what it was sent
        return 400, {}, json.dumps({"error": SEED, "client_secret": "client-secret-xyz", "sent": request.body})

    mock.add_callback(responses.POST, "https://whoop.test/oauth/oauth2/token", callback=echo)
    outputs = _run_modes(tmp_path)
    assert "refused" in outputs["['--source', 'whoop'] stderr"]
    _assert_no_secret(outputs, (SEED, "client-secret-xyz"))


def test_http_error_bodies_echoing_the_access_token_print_no_token(mock, db_url, monkeypatch, tmp_path):
    _whoop_env(monkeypatch, db_url)
    engine = make_engine(db_url)
    with engine.begin() as conn:  # written directly: nothing in this process has registered the token
        conn.execute(
            text(
                "INSERT INTO oauth_token (account_id, provider, user_id, access_token, refresh_token, expires_at, "
                "updated_at) VALUES ((SELECT id FROM account WHERE name = 'default'), 'whoop', 10129, :a, :r, :e, :u)"
            ),
            {"a": ACCESS, "r": SEED, "e": clock.utcnow().replace(year=clock.utcnow().year + 1), "u": clock.utcnow()},
        )
    engine.dispose()

    def echo(request):
        return 400, {}, json.dumps({"message": f"bad request, you sent {request.headers['Authorization']}"})

    mock.add_callback(responses.GET, re.compile(r"https://whoop\.test/developer/v2/.*"), callback=echo)
    outputs = _run_modes(tmp_path)
    assert "HTTP 400" in outputs["['--source', 'whoop'] stderr"]
    _assert_no_secret(outputs, (ACCESS, SEED))


@pytest.mark.parametrize("value", ["short", "x" * 40])
def test_registered_secret_is_masked_in_its_url_encoded_form_too(value):
    from urllib.parse import quote_plus

    from configuration.logs import redact, register_secret

    secret = f"{value}+/= &"
    register_secret(secret)
    assert secret not in redact(f"body: refresh_token={quote_plus(secret)} raw {secret}")
    assert quote_plus(secret) not in redact(f"refresh_token={quote_plus(secret)}")
