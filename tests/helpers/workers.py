"""Sandbox accounts and worker processes for the worker tests and the benchmark."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import text

from api_clients.oauth import Token
from storage.accounts import ACCOUNT
from storage.tokens import DbTokenStore
from sync.lock import ACCOUNT_NS

PROJECT = Path(__file__).resolve().parents[2]
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
BODY_PATH = "/developer/v2/user/measurement/body"  # one WHOOP request per account run


def account_name(person: int) -> str:
    return f"p{person:03d}"


def add_accounts(engine, sb, count: int) -> list[str]:
    """One account per sandbox person, holding that person's live refresh tokens (an expired,
    empty access token: the client refreshes before its first call)."""
    names = []
    for person in range(count):
        name = account_name(person)
        store = DbTokenStore(engine, name)
        for provider in ("whoop", "withings"):
            refresh = sb.mint_refresh_token(provider, person=person)
            store.save(
                provider, Token(access_token="", refresh_token=refresh, expires_at=EPOCH, scope=None, user_id=None)
            )
        names.append(name)
    return names


def worker_env(sb, db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHOOP_", "WITHINGS_", "ETL_", "DATABASE_URL"))}
    return {
        **env,
        **sb.environment(mint_tokens=False),
        "DATABASE_URL": db_url,
        "WHOOP_PLATFORM_NO_DOTENV": "1",
        **extra,
    }


def start_worker(env: dict[str, str], log_path: Path, *args: str) -> subprocess.Popen:
    """`python etl.py worker ARGS`, its output in `log_path` (a pipe nobody reads could fill and block it)."""
    log = open(log_path, "w")  # the child holds its own copy; ours is closed below
    try:
        return subprocess.Popen(
            [sys.executable, "etl.py", "worker", *args], cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    finally:
        log.close()


def held_accounts(engine) -> list[int]:
    """Ids of the accounts whose advisory lock some session holds (pg_locks shows the two-int
    form's first key as an unsigned oid in classid, the second in objid, objsubid 2)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND classid = :ns "
                # pg_locks shows the whole cluster: other databases' workers are not ours
                "AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"ns": ACCOUNT_NS & 0xFFFFFFFF},
        )
        return sorted(int(r.objid) for r in rows)


def wait_for(condition, timeout: float, what: str, poll: float = 0.1):
    """Poll `condition` until it returns something true; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:g} s")
        time.sleep(poll)


def account_states(engine) -> dict[str, tuple]:
    """name -> (last_status, last_run_at, due_at)."""
    with engine.connect() as conn:
        rows = conn.execute(ACCOUNT.select())
        return {r.name: (r.last_status, r.last_run_at, r.due_at) for r in rows}


def runs_by_person(sb) -> dict[int, int]:
    """How many runs each sandbox person saw: its WHOOP body requests (one per run)."""
    counts: dict[int, int] = {}
    for request in sb.requests:
        if request["path"] == BODY_PATH and request["status"] == 200:
            counts[request["person"]] = counts.get(request["person"], 0) + 1
    return counts
