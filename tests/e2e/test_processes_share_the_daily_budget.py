"""Two processes syncing two accounts against one sandbox never spend more than the daily budget
together: counted by the sandbox, which sees every request of the app."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from api_clients.oauth import Token
from sandbox import SandboxServer
from storage import rate_budget
from storage.engine import make_engine
from storage.tokens import DbTokenStore
from sync.budget import BACKFILL_SHARE
from sync.plan import EPOCH

PROJECT = Path(__file__).resolve().parents[2]
BUDGET = 15  # a full WHOOP read of 30 days costs each account about 11 requests


def _account_run(account: str, when: datetime, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.account_run", account, when.isoformat()],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_never_spend_more_than_the_daily_budget_together(db_url):
    now = datetime.now(timezone.utc)  # both processes frozen at it: one day window, whatever the hour
    # The sandbox allows far more a day than our budget: only our own count can hold the line.
    with SandboxServer(people=2, days=30, seed=11, now=now, whoop_daily_limit=10 * BUDGET) as sb:
        engine = make_engine(db_url)
        for person, account in enumerate(("alice", "bob")):
            seed = sb.mint_refresh_token("whoop", person=person)
            DbTokenStore(engine, account).save(
                "whoop", Token(access_token="", refresh_token=seed, expires_at=EPOCH, scope=None, user_id=None)
            )
        env = {
            **os.environ,
            **sb.environment(mint_tokens=False),
            "WHOOP_PLATFORM_NO_DOTENV": "1",
            "DATABASE_URL": db_url,
            "WHOOP_REQUESTS_PER_DAY": str(BUDGET),
        }
        procs = [_account_run(account, now, env) for account in ("alice", "bob")]
        outputs = [p.communicate(timeout=180) for p in procs]
        for proc, (_out, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, err
        statuses = [r["status"] for out, _ in outputs for r in json.loads(out)["resources"]]
        whoop = [r for r in sb.requests if r["provider"] == "whoop"]
        by_person = {p: sum(1 for r in whoop if r["person"] == p) for p in (0, 1)}
        print(f"\n[record] daily budget {BUDGET}: requests by person {by_person}, statuses {sorted(statuses)}")
        # Together they wanted about 20. Both are first loads, backfills: exactly the backfills'
        # share of the day between them, never one more (the rest is kept for routine runs).
        # The account that starts second may still send its set-up (a token refresh, the user-id
        # lookup) once the share is spent: those are not a backfill's, and the rest of the day
        # is theirs to take, never the backfill's.
        share = int(BUDGET * BACKFILL_SHARE)
        assert share <= len(whoop) <= min(share + 2, BUDGET)
        assert "deferred" in statuses and set(statuses) <= {"ok", "deferred"}
        with engine.connect() as conn:
            assert rate_budget.usage(conn, "whoop", rate_budget.DAY, now) == (len(whoop), BUDGET)
        engine.dispose()
