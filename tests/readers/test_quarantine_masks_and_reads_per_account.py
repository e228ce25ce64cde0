"""`quarantine` masks credentials a stored payload carries, reads and acknowledges per account,
and refuses an id no database can hold as a usage error."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import etl
from models import Quarantine
from storage import accounts, quarantine
from tests.helpers import factories as f

SEEN = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
ECHOED = "echoed-refresh-token-7f3a9c"  # a credential the API echoed inside a record
STORED = "stored-access-token-51d2e8"  # a token the database holds for alice


@pytest.fixture
def held(session, db_url, monkeypatch):
    """alice's and bob's held cycles (alice's payload carries a token), and alice's stored token."""
    from api_clients.oauth import Token
    from storage.tokens import DbTokenStore

    monkeypatch.setenv("DATABASE_URL", db_url)
    conn = session.connection()
    ids = {}
    for n, name in enumerate(("alice", "bob")):
        account = accounts.ensure(conn, name)
        accounts.link(conn, account, "whoop", 500 + n)
        cycle = f.cycle(10 + n)
        cycle["start"] = "1970-01-01T00:00:00.000Z"
        if name == "alice":
            cycle["debug"] = {"refresh_token": ECHOED, "note": f"sent with {STORED}"}
        quarantine.quarantine_records(
            session,
            "whoop",
            "cycles",
            key_field="id",
            rejected=[quarantine.Rejected(cycle, "start out of bounds")],
            user_id=500 + n,
            now=SEEN,
        )
        ids[name] = session.scalars(select(Quarantine.id).order_by(Quarantine.id.desc())).first()
    session.commit()
    DbTokenStore(session.get_bind(), "alice").save(
        "whoop", Token(access_token=STORED, refresh_token="r-" + STORED, expires_at=SEEN, scope=None)
    )
    return ids


def _cli(*args: str):
    result = CliRunner().invoke(etl.cli, ["quarantine", *args], catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


def test_show_and_json_mask_a_token_in_the_payload(held):
    code, out = _cli("show", str(held["alice"]))
    assert code == 0, out
    assert ECHOED not in out and STORED not in out
    payload = json.loads(out)["payload"]
    assert payload["debug"] == {"refresh_token": "[redacted]", "note": "sent with [redacted]"}
    code, out = _cli("--json")
    assert code == 0 and ECHOED not in out and STORED not in out


def test_account_lists_shows_and_acknowledges_only_its_own_items(held):
    code, out = _cli("--account", "alice", "--json")
    assert code == 0 and [i["id"] for i in json.loads(out)] == [held["alice"]]
    assert _cli("--account", "alice", "show", str(held["bob"]))[0] == 1
    code, out = _cli("--account", "alice", "ack", "--all")
    assert code == 0 and out.startswith(f"1 item acknowledged ({held['alice']})")
    states = {i["id"]: i["state"] for i in json.loads(_cli("--json")[1])}
    assert states == {held["alice"]: "acknowledged", held["bob"]: "new"}
    code, out = _cli("--account", "nobody", "ack", "--all")
    assert code == 2 and "nobody" in out


def test_account_retries_only_its_own_items(held, session):
    code, out = _cli("--account", "alice", "retry")
    assert code == 0 and out.splitlines()[0] == "whoop cycles: 0 of 1 stored now, 1 still quarantined", out
    session.expire_all()
    attempts = dict(session.execute(select(Quarantine.id, Quarantine.attempts)).all())
    session.commit()  # a SQLite reader's open transaction would hold off the next retry's writes
    assert attempts[held["alice"]] == attempts[held["bob"]] + 1  # bob's item was not tried
    code, out = _cli("--account", "alice", "retry", str(held["bob"]))
    assert code == 1 and f"no quarantine item {held['bob']} to retry" in out
    code, out = _cli("--account", "alice", "retry", str(held["alice"]))
    assert code == 0, out
    assert _cli("--account", "nobody", "retry")[0] == 2


@pytest.mark.parametrize("args", [["show", "99999999999999999999"], ["ack", "9" * 30], ["dismiss", "1", "2" * 25]])
def test_a_huge_id_is_a_usage_error(held, args):
    code, out = _cli(*args)
    assert code == 2 and "range" in out
