"""A run of several accounts syncs them side by side in one process (ETL_ACCOUNT_CONCURRENCY at
once), and one account's crash is that account's failure only."""

from __future__ import annotations

import threading

from configuration.exits import EXIT_FAILED, EXIT_OK
from configuration.settings import get_settings
from sync import run
from sync.report import AccountReporter
from sync.run import RunOptions, RunOutcome, overall_exit, run_accounts


def test_accounts_overlap_and_a_crash_fails_only_its_account(engine, monkeypatch):
    monkeypatch.setenv("ETL_ACCOUNT_CONCURRENCY", "2")
    monkeypatch.setenv("DATABASE_URL", str(engine.url))
    both_inside = threading.Barrier(2, timeout=30)  # passes only if both accounts run at once

    def fake_sync(settings, engine, reporter, options, *, account, **hooks):
        both_inside.wait()
        if account == "bob":
            raise RuntimeError("bob's run broke")
        return RunOutcome([], EXIT_OK, [], account)

    monkeypatch.setattr(run, "sync_account", fake_sync)
    outcomes = run_accounts(get_settings(read_dotenv=False), engine, ["alice", "bob"], AccountReporter, RunOptions())
    assert [(o.account, o.status) for o in outcomes] == [("alice", "ok"), ("bob", "failed")]
    assert "bob's run broke" in outcomes[1].results[0].error
    assert overall_exit(outcomes) == EXIT_FAILED


def test_the_worst_account_decides_and_busy_counts_as_success():
    def outcome(code, busy=False):
        return RunOutcome([], code, [], "x", busy=busy)

    assert overall_exit([outcome(0), outcome(1), outcome(3)]) == 3
    assert overall_exit([outcome(3), outcome(2), outcome(1)]) == 2
    assert overall_exit([outcome(0), outcome(0, busy=True)]) == 0
    assert overall_exit([outcome(0, busy=True), outcome(0, busy=True)]) == 75
