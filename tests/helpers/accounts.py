"""Two accounts, alice and bob, filled by the real ETL with two sandbox people's histories."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest

from api_clients.oauth import Token
from storage import accounts
from storage.engine import make_engine
from storage.tokens import DbTokenStore
from tests.helpers.sandbox_clock import sandbox_now

ACCOUNTS = {"alice": 0, "bob": 1}  # account -> sandbox person
WHOOP_USER = {name: 10129 + person for name, person in ACCOUNTS.items()}
WITHINGS_USER = {name: 3141592 + person for name, person in ACCOUNTS.items()}


def fill_two_accounts(db_url: str, monkeypatch: pytest.MonkeyPatch, days: int = 20) -> None:
    """alice (sandbox person 0) and bob (person 1), each with WHOOP and Withings, synced by the
    real ETL under their own tokens; the migration's empty `default` account is removed, so the
    database holds exactly these two."""
    with two_people(days) as sb:
        sync_two_accounts(sb, db_url, monkeypatch)


@contextmanager
def two_people(days: int = 20) -> Iterator:
    """A sandbox serving two people, its clock a day behind ours (sandbox_clock)."""
    from sandbox import SandboxServer

    with SandboxServer(days=days, seed=7, now=sandbox_now(), people=len(ACCOUNTS)) as sb:
        yield sb


def sync_two_accounts(sb, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment of `sb`'s apps (no seed token), and alice's and bob's first runs."""
    from sync import service
    from sync.report import Reporter

    for key, value in sb.environment(mint_tokens=False).items():  # the apps; tokens per account below
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", db_url)
    engine = make_engine(db_url)
    try:
        service.open_database(service.load_settings()).dispose()  # the schema at head
        for name, person in ACCOUNTS.items():
            store = DbTokenStore(engine, name)
            for provider in ("whoop", "withings"):
                seed = sb.mint_refresh_token(provider, person=person)
                expired = datetime.now(timezone.utc) - timedelta(hours=1)
                store.save(provider, Token(access_token="", refresh_token=seed, expires_at=expired, scope=None))
            reporter = Reporter(interactive=False, quiet=True)
            outcome = service.run_once(account=name, engine=engine, reporter=reporter)
            assert outcome.exit_code == 0, outcome.results
        with engine.begin() as conn:
            accounts.remove(conn, accounts.require(conn, "default"))
    finally:
        engine.dispose()


def file_under_default(url: str, users: dict[str, int]) -> int:
    """Link each provider user (provider -> user id) to the `default` account, as the ETL's first
    token save does, so rows a test writes by hand belong to an account a reader reads; the id of
    `default`."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            default = accounts.ensure(conn)
            for provider, user_id in users.items():
                accounts.link(conn, default, provider, user_id)
    finally:
        engine.dispose()
    return default


def alice_beside_empty_default(sb, db_url: str, monkeypatch: pytest.MonkeyPatch):
    """The environment of `sb`'s apps (no seed token, staleness allowing its day of lag), and
    alice's live tokens beside the migration's empty `default`: (settings, engine)."""
    from sync import resources, service

    for key, value in sb.environment(mint_tokens=False).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", db_url)
    for resource in resources.RESOURCES:
        if resource.stale_after < timedelta(days=3):
            monkeypatch.setenv(f"STALE_AFTER_{resource.source.upper()}_{resource.name.upper()}", "3d")
    settings = service.load_settings()
    engine = service.open_database(settings)
    store = DbTokenStore(engine, "alice")
    expired = datetime.now(timezone.utc) - timedelta(hours=1)
    for provider in resources.SOURCES:
        seed = sb.mint_refresh_token(provider)
        store.save(provider, Token(access_token="", refresh_token=seed, expires_at=expired, scope=None))
    return settings, engine
