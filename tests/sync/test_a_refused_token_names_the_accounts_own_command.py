"""alice's WHOOP refresh token is refused: the run says so once, not once per resource, sends the
dead token once, and the run, `status` and `status --check` all name alice's own re-connect
command, in the form the user typed (`python etl.py ...` or the installed `whoop-etl ...`)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

import etl
from api_clients.oauth import Token
from configuration import invocation
from storage.tokens import DbTokenStore
from tests.helpers.accounts import alice_beside_empty_default

HINT = re.compile(r"re-connect with `([^`]*)`|run `([^`]*connect[^`]*)`")


@pytest.fixture
def refused(sandbox, db_url, monkeypatch):
    """alice synced once, then her stored WHOOP refresh token is one WHOOP no longer honours."""
    settings, engine = alice_beside_empty_default(sandbox, db_url, monkeypatch)
    try:
        assert CliRunner().invoke(etl.cli, ["--account", "alice"]).exit_code == 0
        store = DbTokenStore(engine, "alice")
        user = store.load("whoop").user_id
        expired = datetime.now(timezone.utc) - timedelta(hours=1)
        store.save("whoop", Token(access_token="", refresh_token="revoked", expires_at=expired, user_id=user))
    finally:
        engine.dispose()
    return sandbox


def hints(text: str) -> list[str]:
    return [a or b for a, b in HINT.findall(text)]


@pytest.mark.parametrize("argv0, program", [("etl.py", "python etl.py"), ("/usr/bin/whoop-etl", "whoop-etl")])
def test_every_hint_names_alices_command_and_the_refusal_is_told_once(refused, monkeypatch, argv0, program):
    monkeypatch.setattr(invocation, "_program", None)
    invocation.note_invocation(argv0)
    own = f"{program} connect whoop --account alice"
    refused.app.clear_requests()
    run = CliRunner().invoke(etl.cli, ["--account", "alice"])
    assert run.exit_code == 3
    assert run.stderr.count("refused") == 1 and hints(run.stderr) == [own], run.stderr
    token_calls = [r for r in refused.requests if r["provider"] == "whoop" and r["method"] == "POST"]
    assert len(token_calls) == 1  # the other resources are told without sending the dead token again
    status = CliRunner().invoke(etl.cli, ["status"])
    check = CliRunner().invoke(etl.cli, ["status", "--check"])
    assert check.exit_code == 3
    for text in (status.stdout, check.stderr):
        assert hints(text) and set(hints(text)) == {own}, text
