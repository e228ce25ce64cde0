"""The one account policy: which accounts the run, `watch`, the workers and the readers take."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, insert, update

import models
from storage import account_policy, accounts

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


def settings(seed: str | None = None):
    """Settings as the policy reads them: a seed refresh token, or none."""
    return SimpleNamespace(whoop=SimpleNamespace(seed_refresh_token=seed), withings=SimpleNamespace())


def names(scopes) -> list[str | None]:
    return [scope.name for scope in scopes]


def everyone(conn, configured=None) -> dict[str, list]:
    """What each command would take, with no account named."""
    configured = configured or settings()
    return {
        "run": names(account_policy.to_run(conn, settings=configured)),
        "watch": names(account_policy.to_watch(conn, settings=configured)),
        "work": [name for _id, name in account_policy.to_work_on(conn, NOW, 16, settings=configured)],
        "read": names(account_policy.to_read(conn)),
    }


@pytest.fixture
def alice(engine):
    """alice, her WHOOP user linked, beside the migration's empty `default`."""
    with engine.begin() as conn:
        accounts.link(conn, accounts.ensure(conn, "alice"), "whoop", 10129)
    return engine


def test_an_empty_default_beside_alice_is_taken_by_no_command(alice):
    with alice.connect() as conn:
        assert everyone(conn) == {"run": ["alice"], "watch": ["alice"], "work": ["alice"], "read": ["alice"]}
        assert account_policy.to_read(conn)[0].id == accounts.find(conn, "alice")  # her rows only, always
        named = account_policy.to_run(conn, ("default", "alice", "default"), settings=settings())
        assert names(named) == ["default", "alice"]  # named, it is taken, each once


def test_a_token_or_a_seed_makes_default_someone_to_sync(alice):
    with alice.connect() as conn:
        seeded = everyone(conn, settings(seed="seed-token"))
    assert seeded["run"] == seeded["watch"] == seeded["work"] == ["default", "alice"]
    with alice.begin() as conn:
        conn.execute(
            insert(models.oauth_token).values(
                account_id=accounts.find(conn, "default"),
                provider="withings",
                user_id=-1,
                access_token="",
                updated_at=NOW,
            )
        )
        assert everyone(conn)["run"] == ["default", "alice"]


def test_a_lone_default_is_kept_and_a_database_without_accounts_is_read_whole(engine):
    with engine.begin() as conn:
        assert everyone(conn) == {"run": ["default"], "watch": ["default"], "work": ["default"], "read": ["default"]}
        assert account_policy.to_read(conn)[0].alone
        conn.execute(delete(models.account))
        assert account_policy.to_read(conn) == [account_policy.Scope(None, None)]
        assert account_policy.to_run(conn, settings=settings()) == [account_policy.Scope("default", None)]


def test_a_worker_takes_due_accounts_only_and_waits_for_the_earliest(alice):
    with alice.begin() as conn:
        conn.execute(update(models.account).values(due_at=NOW + timedelta(minutes=5)))
        assert account_policy.to_work_on(conn, NOW, 16, settings=settings()) == []
        assert account_policy.next_due_at(conn, settings=settings()).replace(tzinfo=timezone.utc) == NOW + timedelta(
            minutes=5
        )


def test_an_unknown_name_lists_the_accounts(alice):
    with alice.connect() as conn, pytest.raises(accounts.UnknownAccount, match="default, alice"):
        account_policy.to_read(conn, ["carol"])
