"""Two sandbox people as two accounts (`alice`, `bob`), each with WHOOP and Withings, through the
real command line on SQLite and PostgreSQL: one run syncs both side by side and their rows never
mix, one that must re-connect does not stop the other, `--account` picks, `accounts` lists and
removes (keeping or purging the data), and `connect` refuses a person another account holds."""

from __future__ import annotations

import json
import socket
import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

import etl
from api_clients.oauth import Token
from models import AccountProvider, OAuthToken, SyncState
from sandbox import SandboxServer
from storage import accounts
from storage.engine import make_engine
from storage.tokens import DbTokenStore
from sync.resources import tables_by_source

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
PEOPLE = {"alice": 0, "bob": 1}


@pytest.fixture
def two(db_url, monkeypatch):
    """A sandbox of two people, its apps in the environment (no seed token), and one account per
    person holding a WHOOP and a Withings refresh token: (sandbox, engine)."""
    now = datetime.now(timezone.utc) - timedelta(days=1)
    with SandboxServer(people=2, days=20, seed=7, now=now) as sb:
        for key, value in sb.environment(mint_tokens=False).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("DATABASE_URL", db_url)
        engine = make_engine(db_url)
        for name, person in PEOPLE.items():
            give_tokens(engine, sb, name, person)
        yield sb, engine
        engine.dispose()


def give_tokens(engine, sb, account: str, person: int) -> None:
    store = DbTokenStore(engine, account)
    for provider in ("whoop", "withings"):
        # An empty, expired access token: the client refreshes before its first call.
        refresh = sb.mint_refresh_token(provider, person=person)
        store.save(provider, Token(access_token="", refresh_token=refresh, expires_at=EPOCH, scope=None, user_id=None))


def cli(*args: str, input: str | None = None):
    return CliRunner().invoke(etl.cli, list(args), catch_exceptions=False, input=input)


def user_ids_by_table(engine) -> dict[str, set[int]]:
    """Per data table (every declared resource's), the distinct user ids of its rows."""
    out = {}
    with engine.connect() as conn:
        for provider, tables in tables_by_source().items():
            for table in tables:
                out[table.name] = (provider, set(conn.execute(select(table.c.user_id).distinct()).scalars()))
    return out


def expected_ids(sb, name: str) -> dict[str, int]:
    who = sb.people[PEOPLE[name]]
    return {"whoop": who.whoop_user_id, "withings": who.withings_userid}


def links(engine) -> dict[str, dict[str, list[int]]]:
    with engine.connect() as conn:
        return {row.name: row.users for row in accounts.list_accounts(conn)}


def test_one_run_syncs_both_accounts_and_each_keeps_only_its_own_user_ids(two):
    sb, engine = two
    result = cli("--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [(a["account"], a["status"], a["exit_code"]) for a in summary["accounts"]] == [
        ("alice", "ok", 0),
        ("bob", "ok", 0),
    ]  # the empty `default` account the database was created with is left out
    assert all(r["status"] == "ok" for a in summary["accounts"] for r in a["resources"])

    # Each account holds exactly its person's provider users ...
    held = links(engine)
    for name in PEOPLE:
        assert held[name] == {p: [i] for p, i in expected_ids(sb, name).items()}
    # ... and every data table holds both people's rows and nobody else's.
    for table, (provider, ids) in user_ids_by_table(engine).items():
        if ids:
            assert ids == {expected_ids(sb, n)[provider] for n in PEOPLE}, table
    assert user_ids_by_table(engine)["cycles"][1], "WHOOP cycles were stored"
    # sync_state and the tokens are filed under each row's own account.
    with engine.connect() as conn:
        owner = {a: accounts.find(conn, a) for a in PEOPLE}
        for model in (SyncState, OAuthToken):
            provider_col = model.source if model is SyncState else model.provider
            for provider, user_id, account_id in conn.execute(select(provider_col, model.user_id, model.account_id)):
                name = next(n for n in PEOPLE if expected_ids(sb, n)[provider] == user_id)
                assert account_id == owner[name], (model.__tablename__, provider, user_id)

    # The text summary: one line per account, then `accounts` lists both, connected and fresh.
    result = cli()
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert [line.split()[:4] for line in lines] == [["alice", "ok", "0", "new"], ["bob", "ok", "0", "new"]]
    assert all("WHOOP just now" in line and "Withings just now" in line for line in lines)
    listed = json.loads(cli("accounts", "--json").stdout)
    by_name = {a["account"]: a for a in listed}
    assert set(by_name) == {"default", "alice", "bob"}
    for name in PEOPLE:
        assert by_name[name]["tokens"] == {"whoop": "connected", "withings": "connected"}
        assert by_name[name]["user_ids"] == {p: [i] for p, i in expected_ids(sb, name).items()}
        assert by_name[name]["freshness"] is not None
    assert by_name["default"]["providers"] == []
    table = cli("accounts").stdout
    assert "alice" in table and "bob" in table and "connected" in table


def test_an_account_that_must_reconnect_exits_3_and_the_other_is_stored(two):
    sb, engine = two
    assert cli("--json").exit_code == 0
    before = {n: count_rows(engine, "cycles", expected_ids(sb, n)["whoop"]) for n in PEOPLE}
    with engine.connect() as conn:  # bob revokes the app's WHOOP access: every token of his dies
        access = conn.execute(
            select(OAuthToken.access_token).where(
                OAuthToken.account_id == accounts.find(conn, "bob"), OAuthToken.provider == "whoop"
            )
        ).scalar_one()
    revoked = requests.delete(
        f"{sb.url}/developer/v2/user/access", headers={"Authorization": f"Bearer {access}"}, timeout=10
    )
    assert revoked.status_code == 204
    sb.advance_day()

    result = cli("--json")
    assert result.exit_code == 3, result.output
    status = {a["account"]: a["status"] for a in json.loads(result.stdout)["accounts"]}
    assert status == {"alice": "ok", "bob": "re-connect"}
    after = {n: count_rows(engine, "cycles", expected_ids(sb, n)["whoop"]) for n in PEOPLE}
    assert after["alice"] > before["alice"] and after["bob"] == before["bob"]  # alice's new day is stored
    listed = {a["account"]: a for a in json.loads(cli("accounts", "--json").stdout)}
    assert listed["bob"]["tokens"] == {"whoop": "must re-connect", "withings": "connected"}
    assert listed["alice"]["tokens"] == {"whoop": "connected", "withings": "connected"}
    lines = cli().stdout  # the line names the account and its error
    assert "bob" in lines and "re-connect" in lines and "connect whoop --account bob" in lines


def count_rows(engine, table_name: str, user_id: int) -> int:
    table = next(t for tables in tables_by_source().values() for t in tables if t.name == table_name)
    with engine.connect() as conn:
        return len(conn.execute(select(table.c.user_id).where(table.c.user_id == user_id)).all())


def test_account_flag_syncs_only_that_account_and_an_unknown_one_exits_2(two):
    sb, engine = two
    result = cli("--json", "--account", "bob")
    assert result.exit_code == 0, result.output
    assert "resources" in json.loads(result.stdout)  # one account: the single-run summary, as before
    for table, (provider, ids) in user_ids_by_table(engine).items():
        assert ids <= {expected_ids(sb, "bob")[provider]}, table
    assert user_ids_by_table(engine)["cycles"][1]

    result = cli("--account", "carol")
    assert result.exit_code == 2
    assert "carol" in result.stderr and "alice" in result.stderr and "bob" in result.stderr


def test_remove_keeps_the_data_and_purge_deletes_only_that_accounts_rows(two):
    sb, engine = two
    assert cli("--json").exit_code == 0
    before = user_ids_by_table(engine)

    result = cli("accounts", "remove", "bob")
    assert result.exit_code == 0, result.output
    assert "kept" in result.stdout
    assert user_ids_by_table(engine) == before  # nothing lost
    assert "bob" not in links(engine)
    with engine.connect() as conn:
        assert conn.execute(select(OAuthToken.provider).where(OAuthToken.account_id.is_(None))).all() == []
        assert len(conn.execute(select(OAuthToken.id)).all()) == 2  # alice's two tokens

    result = cli("accounts", "remove", "bob")
    assert result.exit_code == 2 and "alice" in result.stderr  # unknown now: the accounts are listed

    give_tokens(engine, sb, "bob", PEOPLE["bob"])  # bob again, then purged without a question
    result = cli("accounts", "remove", "alice", "--purge", "--yes")
    assert result.exit_code == 0, result.output
    for table, (provider, ids) in user_ids_by_table(engine).items():
        assert ids == before[table][1] - {expected_ids(sb, "alice")[provider]}, table
    with engine.connect() as conn:
        assert (
            conn.execute(select(SyncState.id).where(SyncState.user_id == expected_ids(sb, "alice")["whoop"])).all()
            == []
        )

    result = cli("accounts", "remove", "bob", "--purge", input="n\n")  # asked, and refused: nothing happens
    assert result.exit_code == 1
    assert user_ids_by_table(engine)["cycles"][1] == {expected_ids(sb, "bob")["whoop"]}
    assert "bob" in links(engine)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connect_under_another_account_of_a_held_person_exits_2_and_saves_nothing(two, monkeypatch):
    sb, engine = two
    assert cli("--json").exit_code == 0  # the accounts learn their people's user ids
    # The browser: follow the authorize page (it approves as the signed-in person) to our callback.
    monkeypatch.setenv("WHOOP_REDIRECT_URI", f"http://127.0.0.1:{_free_port()}/callback")
    opened = []
    monkeypatch.setattr(
        "webbrowser.open",
        lambda url: opened.append(threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 10}).start()),
    )
    sb.sign_in(PEOPLE["alice"])
    result = cli("connect", "whoop", "--account", "carol", "--timeout", "10")
    assert result.exit_code == 2, result.output
    assert "'alice'" in result.stderr
    with engine.connect() as conn:
        assert accounts.find(conn, "carol") is None  # not even the account was created
        assert len(conn.execute(select(AccountProvider.id)).all()) == 4

    monkeypatch.setenv("WHOOP_REDIRECT_URI", f"http://127.0.0.1:{_free_port()}/callback")
    result = cli("connect", "whoop", "--account", "alice", "--timeout", "10")  # the same person again: fine
    assert result.exit_code == 0, result.output
    assert "under account 'alice'" in result.stdout
    assert opened


def test_an_account_another_process_syncs_is_busy_and_only_all_busy_exits_75(two):
    sb, engine = two
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite: one process syncs the whole database (the lock file exits 75 as before)")
    from sync.lock import account_lock

    with engine.connect() as conn:
        ids = {name: accounts.find(conn, name) for name in PEOPLE}
    with account_lock(engine, ids["bob"], name="bob"):  # another process is syncing bob
        result = cli("--json")
        assert result.exit_code == 0, result.output
        status = {a["account"]: a["status"] for a in json.loads(result.stdout)["accounts"]}
        assert status == {"alice": "ok", "bob": "busy"}
        removed = cli("accounts", "remove", "bob")  # not while it syncs
        assert removed.exit_code == 75 and "bob" in links(engine)
        with account_lock(engine, ids["alice"], name="alice"):
            result = cli("--json")
            assert result.exit_code == 75, result.output
            assert "every account" in result.stderr
    assert user_ids_by_table(engine)["cycles"][1] == {expected_ids(sb, "alice")["whoop"]}


def test_the_healthcheck_ping_reports_the_overall_outcome(two, monkeypatch):
    from tests.conftest import serving
    from tests.sync.test_healthcheck_pings import SECRET, Monitor

    sb, engine = two
    with engine.begin() as conn:  # bob's WHOOP must re-connect
        conn.execute(
            OAuthToken.__table__.update()
            .where(OAuthToken.account_id == accounts.find(conn, "bob"), OAuthToken.provider == "whoop")
            .values(refresh_token="revoked-long-ago")
        )
    with serving(Monitor()) as monitor:
        result = cli("--ping-url", monitor.url)
    assert result.exit_code == 3, result.output
    pings = [(p[1].replace(SECRET, "UUID"), p[3]) for p in monitor.pings]
    assert [p[0] for p in pings] == ["/UUID/start", "/UUID/fail"]  # one start, one finish for the whole run
    # A hosted monitor is a third party: counts, no names (HEALTHCHECK_ACCOUNT_NAMES=1 names them).
    assert pings[1][1] == "exit 3: 2 accounts: 1 ok, 1 re-connect"


def test_the_menu_runs_every_account(two, capsys):
    import run_app

    sb, engine = two
    answers = iter(["1", "q"])
    assert run_app.main(ask=lambda prompt: next(answers)) == 0
    out = capsys.readouterr().out
    assert "All synced." in out
    assert [line.split()[:2] for line in out.splitlines() if line.startswith(("alice", "bob"))] == [
        ["alice", "ok"],
        ["bob", "ok"],
    ]
    for table, (provider, ids) in user_ids_by_table(engine).items():
        if ids:
            assert ids == {expected_ids(sb, n)[provider] for n in PEOPLE}, table


def test_a_refresh_token_setting_seeds_the_default_account_only(two, monkeypatch):
    sb, engine = two
    monkeypatch.setenv("WHOOP_REFRESH_TOKEN", sb.mint_refresh_token("whoop", person=0))
    assert cli("accounts", "add", "carol").exit_code == 0
    result = cli("--json", "--account", "carol", "--source", "whoop")
    assert result.exit_code == 3, result.output
    assert "--account carol" in json.loads(result.stdout)["resources"][0]["error"]
    with engine.connect() as conn:
        carol = accounts.find(conn, "carol")
        assert conn.execute(select(OAuthToken.id).where(OAuthToken.account_id == carol)).all() == []


def test_accounts_add_on_a_fresh_database_migrates_it_as_status_does(empty_db_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    result = cli("accounts", "add", "alice")
    assert (result.exit_code, result.output) == (0, "account 'alice' created\n")
    listed = cli("accounts", "--json")
    assert listed.exit_code == 0 and [a["account"] for a in json.loads(listed.stdout)] == ["default", "alice"]
