"""Account locks on PostgreSQL: different accounts overlap, one account never runs twice at once,
and the whole-database lock still excludes every account run."""

from __future__ import annotations

import pytest

from sync.lock import RunLocked, account_lock, run_lock


@pytest.fixture
def pg_engine(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite: one process syncs at a time (the lock file); its accounts share it")
    return engine


def test_two_accounts_overlap_and_one_account_is_held_once(pg_engine):
    with account_lock(pg_engine, 1), account_lock(pg_engine, 2):
        with pytest.raises(RunLocked, match="account 'alice'"):
            with account_lock(pg_engine, 1, name="alice"):
                pass
    with account_lock(pg_engine, 1):  # released on the way out
        pass


def test_the_whole_database_lock_excludes_account_runs_and_waits_for_them(pg_engine):
    with run_lock(pg_engine):
        with pytest.raises(RunLocked):
            with account_lock(pg_engine, 1):
                pass
    with account_lock(pg_engine, 1):
        with pytest.raises(RunLocked):
            with run_lock(pg_engine):
                pass
        with account_lock(pg_engine, 2):  # a failed try gave back the shared key it took
            pass
