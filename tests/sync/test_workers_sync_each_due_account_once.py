"""`whoop-etl worker` on PostgreSQL: several worker processes share the due accounts, each
account is synced once per due time with only its own provider users' rows, and a worker
SIGKILLed mid-account leaves no lock behind and loses nothing."""

from __future__ import annotations

import signal
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import etl
from configuration.settings import get_settings
from models import AccountProvider
from sandbox import SandboxServer
from storage.accounts import ACCOUNT
from sync.report import Reporter
from sync.resources import data_tables
from sync.run import RunOptions, sync_account
from tests.helpers.workers import (
    account_name,
    account_states,
    add_accounts,
    held_accounts,
    runs_by_person,
    start_worker,
    wait_for,
    worker_env,
)

PEOPLE = 12
WORKERS = 3
PROCESS_TIMEOUT = 600  # generous: the machine is shared; nothing below measures time


@pytest.fixture
def pg_engine(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("workers need PostgreSQL (advisory locks shared by processes); SQLite runs one process")
    with engine.begin() as conn:  # the migration's empty `default` account is none of the sandbox's people
        conn.execute(ACCOUNT.delete().where(ACCOUNT.c.name == "default"))
    return engine


@pytest.fixture
def people_sandbox():
    now = datetime.now(timezone.utc) - timedelta(days=1)
    with SandboxServer(people=PEOPLE, days=20, seed=11, now=now) as sb:
        yield sb


def _owners(engine) -> dict[str, dict[str, set[int]]]:
    """account name -> provider -> the provider user ids linked to it."""
    link = AccountProvider.__table__
    out: dict[str, dict[str, set[int]]] = {}
    with engine.connect() as conn:
        rows = conn.execute(select(ACCOUNT.c.name, link.c.provider, link.c.user_id).join(link))
        for name, provider, user_id in rows:
            out.setdefault(name, {}).setdefault(provider, set()).add(user_id)
    return out


def _rows_by_user(engine) -> dict[str, dict[int, int]]:
    """table -> user id -> rows."""
    out = {}
    with engine.connect() as conn:
        for table in data_tables():
            rows = conn.execute(select(table.c.user_id, func.count()).group_by(table.c.user_id))
            out[table.name] = dict(rows.all())
    return out


def _assert_each_account_holds_only_its_person(engine, sb, names):
    owners = _owners(engine)
    for person, name in enumerate(names):
        who = sb.people[person]
        assert owners[name] == {"whoop": {who.whoop_user_id}, "withings": {who.withings_userid}}, name
    linked = {uid for by_provider in owners.values() for ids in by_provider.values() for uid in ids}
    by_user = _rows_by_user(engine)
    for table, counts in by_user.items():
        assert set(counts) <= linked, f"{table}: rows of a user no account holds"
    # Every person's history arrived (the cycles and the daily Withings activity of each user).
    assert set(by_user["cycles"]) == {sb.people[p].whoop_user_id for p in range(len(names))}


def _fetching_data(request) -> bool:
    """A WHOOP data page: the run has planned, so both providers' tokens are refreshed and stored."""
    path = request["path"]
    return request["person"] is not None and path.startswith("/developer/v2/") and "/profile/" not in path


def test_three_workers_sync_every_due_account_once_and_keep_accounts_apart(pg_engine, db_url, people_sandbox, tmp_path):
    sb = people_sandbox
    names = add_accounts(pg_engine, sb, PEOPLE)
    env = worker_env(sb, db_url)
    procs = [start_worker(env, tmp_path / f"worker{n}.log", "--until-idle") for n in range(WORKERS)]
    codes = [p.wait(PROCESS_TIMEOUT) for p in procs]
    logs = "\n".join((tmp_path / f"worker{n}.log").read_text() for n in range(WORKERS))
    assert codes == [0] * WORKERS, logs

    states = account_states(pg_engine)
    assert {name: states[name][0] for name in names} == dict.fromkeys(names, "ok"), logs
    assert all(due > last for _status, last, due in (states[n] for n in names))  # scheduled again, after the run
    assert runs_by_person(sb) == dict.fromkeys(range(PEOPLE), 1)  # each account once for its due time
    assert sorted(line.split()[0] for line in logs.splitlines() if "  ok  " in line) == names  # and by one worker
    _assert_each_account_holds_only_its_person(pg_engine, sb, names)
    assert held_accounts(pg_engine) == []

    # Nothing is due now: another round of workers syncs nothing.
    again = start_worker(env, tmp_path / "again.log", "--until-idle")
    assert again.wait(PROCESS_TIMEOUT) == 0
    assert runs_by_person(sb) == dict.fromkeys(range(PEOPLE), 1)


def test_a_worker_killed_mid_account_leaves_no_lock_and_another_completes_the_account(
    pg_engine, db_url, people_sandbox, tmp_path, monkeypatch
):
    sb = people_sandbox
    for key, value in sb.environment(mint_tokens=False).items():
        monkeypatch.setenv(key, value)
    names = add_accounts(pg_engine, sb, 4)
    sb.app.faults.latency_ms = 300  # an account now takes seconds: time to kill the worker holding it
    env = worker_env(sb, db_url)
    victim = start_worker(env, tmp_path / "victim.log", "--until-idle")
    wait_for(lambda: held_accounts(pg_engine), 120, "the worker to hold an account")
    # Killed while it fetches the data, past the token refreshes of its start: a kill between
    # the provider's answer to a refresh and the commit of the rotated token is the one that
    # costs a re-connect (docs/SCALE.md, sections 6 and 8); this test is about the lock and the rows.
    wait_for(lambda: any(_fetching_data(r) for r in sb.requests), 120, "the first data page")
    victim.send_signal(signal.SIGKILL)
    victim.wait(30)
    # The server ends the session with the socket: no account stays locked.
    wait_for(lambda: held_accounts(pg_engine) == [], 60, "the killed worker's lock to go")
    # The account it was syncing: requests were made for it, and it was never filed.
    started = {account_name(r["person"]) for r in sb.requests if r["person"] is not None}
    states = account_states(pg_engine)
    interrupted = [name for name in sorted(started) if states[name][1] is None]
    assert len(interrupted) == 1, (started, states)
    killed = interrupted[0]
    assert states[killed][2] is None  # due_at never moved at claim: still due

    sb.app.faults.latency_ms = 0
    survivor = start_worker(env, tmp_path / "survivor.log", "--until-idle")
    assert survivor.wait(PROCESS_TIMEOUT) == 0, (tmp_path / "survivor.log").read_text()
    states = account_states(pg_engine)
    assert {name: states[name][0] for name in names} == dict.fromkeys(names, "ok")
    _assert_each_account_holds_only_its_person(pg_engine, sb, names)

    # Nothing missing: a full re-read of the killed account's history finds no new row (and the
    # natural keys forbid a doubled one).
    before = _rows_by_user(pg_engine)
    settings = get_settings(read_dotenv=False)
    outcome = sync_account(
        settings, pg_engine, Reporter(interactive=False, quiet=True), RunOptions(full=True), account=killed
    )
    assert outcome.exit_code == 0
    assert sum(r.counts.inserted for r in outcome.results) == 0
    assert _rows_by_user(pg_engine) == before


def test_a_worker_on_sqlite_exits_2_saying_workers_need_postgresql(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'one.db'}")
    monkeypatch.setenv("WHOOP_CLIENT_ID", "id")
    monkeypatch.setenv("WHOOP_CLIENT_SECRET", "secret")
    result = CliRunner().invoke(etl.cli, ["worker", "--until-idle"])
    assert result.exit_code == 2
    assert "workers need PostgreSQL" in result.stderr


def test_sigterm_lets_the_worker_finish_the_account_in_hand_then_exit_0(pg_engine, db_url, people_sandbox, tmp_path):
    sb = people_sandbox
    names = add_accounts(pg_engine, sb, 4)
    sb.app.faults.latency_ms = 100
    worker = start_worker(worker_env(sb, db_url), tmp_path / "worker.log")  # no --until-idle: runs until stopped
    held = wait_for(lambda: held_accounts(pg_engine), 120, "the worker to hold an account")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(PROCESS_TIMEOUT) == 0, (tmp_path / "worker.log").read_text()
    with pg_engine.connect() as conn:
        statuses = dict(conn.execute(select(ACCOUNT.c.id, ACCOUNT.c.last_status)).all())
    assert statuses[held[0]] == "ok"  # the account in hand was finished and filed
    assert list(statuses.values()).count("ok") < len(names)  # and no new one was started
    assert held_accounts(pg_engine) == []


def test_worker_sessions_ask_the_server_to_notice_a_vanished_host_within_a_minute(pg_engine, db_url):
    from storage.engine import make_engine

    if not pg_engine.url.host:
        pytest.skip("a Unix socket has no TCP keepalives")
    engine = make_engine(db_url, server_keepalives=True)
    try:
        with engine.connect() as conn:
            settings = [
                conn.exec_driver_sql(f"SHOW {name}").scalar()
                for name in ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count")
            ]
    finally:
        engine.dispose()
    assert settings == ["30", "10", "3"]
