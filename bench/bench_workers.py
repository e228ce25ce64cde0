"""Workers against many sandbox accounts: wall time, requests a minute against the app limits,
peak memory per worker, duplicates, and what a SIGKILL of a worker mid-run costs.
Results go to docs/SCALE.md, section 8, by hand.

    python bench/bench_workers.py --accounts 200 --workers 1 2 4                  # the real limits
    python bench/bench_workers.py --accounts 200 --workers 1 2 4 --rate-scale 10  # ten times them

Needs PostgreSQL: BENCH_POSTGRES_URL (default postgresql+psycopg2://postgres@127.0.0.1:5432/
t_acct_worker_bench; the database is created if missing and emptied for every configuration).
The sandbox runs in this process (its own threads), one person per account; each worker is a
`python etl.py worker --until-idle` process. With `--kill`, once a third of the accounts are
done, one worker is SIGKILLed and a new one started in its place; afterwards the accounts it
held are read again in full: rows the kill lost would be inserted then (must be none).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from sqlalchemy import func, select, text  # noqa: E402 - imported once the checkout is on sys.path
from sqlalchemy.engine import make_url  # noqa: E402

from bench.bench_etl import machine  # noqa: E402
from models import AccountProvider  # noqa: E402
from sandbox import SandboxServer  # noqa: E402
from storage.accounts import ACCOUNT  # noqa: E402
from storage.engine import ensure_schema, make_engine  # noqa: E402
from sync.resources import data_tables  # noqa: E402
from tests.helpers.workers import BODY_PATH, add_accounts, held_accounts, start_worker, worker_env  # noqa: E402

DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/t_acct_worker_bench"
WHOOP_LIMIT, WITHINGS_LIMIT = 100, 120  # the real app-wide limits per minute (docs/SCALE.md, section 1)


def fresh_database(url: str):
    """An empty database at the current schema."""
    admin = make_engine(make_url(url).set(database="postgres").render_as_string(hide_password=False))
    name = make_url(url).database
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    ensure_schema(engine)
    with engine.begin() as conn:  # the migration's empty `default` account is not one of the sandbox's people
        conn.execute(ACCOUNT.delete().where(ACCOUNT.c.name == "default"))
    return engine


class RequestMeter:
    """Samples the sandbox's request log every second: the busiest 60 s of each provider."""

    def __init__(self, sb: SandboxServer):
        self.sb, self.samples, self._stop = sb, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _count(self) -> tuple[float, int, int]:
        log = self.sb.requests
        whoop = sum(1 for r in log if r["provider"] == "whoop")
        return time.monotonic(), whoop, len(log) - whoop

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.samples.append(self._count())

    def __enter__(self):
        self.samples.append(self._count())
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(self._count())

    def busiest_minute(self, column: int) -> int:
        best = 0
        for i, start in enumerate(self.samples):
            for later in self.samples[i:]:
                if later[0] - start[0] > 60:
                    break
                best = max(best, later[column] - start[column])
        return best


def wait4(proc: subprocess.Popen) -> tuple[int, float]:
    """(exit code, peak RSS in MB) of one worker: wait4 reports each child's own peak."""
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024


def cross_account_rows(engine) -> int:
    """Rows whose user id no account holds (rows of one account filed under none or another)."""
    link = AccountProvider.__table__
    total = 0
    with engine.connect() as conn:
        for table in data_tables():
            total += conn.execute(
                select(func.count()).select_from(table).where(table.c.user_id.not_in(select(link.c.user_id)))
            ).scalar()
    return total


def rows_by_user(engine) -> dict[tuple[str, int], int]:
    out = {}
    with engine.connect() as conn:
        for table in data_tables():
            for user_id, count in conn.execute(select(table.c.user_id, func.count()).group_by(table.c.user_id)):
                out[table.name, user_id] = count
    return out


def run(args, workers: int, url: str, logs: Path) -> dict:
    scale = args.rate_scale
    now = datetime.now(timezone.utc) - timedelta(days=1)
    sb = SandboxServer(
        people=args.accounts,
        days=args.days,
        seed=42,
        now=now,
        whoop_rate_limit=WHOOP_LIMIT * scale,
        withings_rate_limit=WITHINGS_LIMIT * scale,
    ).start()
    engine = fresh_database(url)
    try:
        names = add_accounts(engine, sb, args.accounts)
        env = worker_env(
            sb,
            url,
            WHOOP_REQUESTS_PER_MINUTE=str(WHOOP_LIMIT * scale),
            WITHINGS_REQUESTS_PER_MINUTE=str(WITHINGS_LIMIT * scale),
        )
        load_before = os.getloadavg()
        killed_held, kill_note = [], "not killed"
        started = time.monotonic()
        with RequestMeter(sb) as meter:
            procs = [start_worker(env, logs / f"w{workers}-{n}.log", "--until-idle") for n in range(workers)]
            if args.kill:
                while True:
                    with engine.connect() as conn:
                        done = conn.execute(
                            select(func.count()).select_from(ACCOUNT).where(ACCOUNT.c.last_run_at.is_not(None))
                        ).scalar()
                    if done >= len(names) // 3 or procs[0].poll() is not None:
                        break
                    time.sleep(0.2)
                killed_held = held_accounts(engine)
                procs[0].send_signal(signal.SIGKILL)
                wait4(procs[0])
                kill_note = f"killed with {len(killed_held)} accounts held by all workers"
                procs[0] = start_worker(env, logs / f"w{workers}-replacement.log", "--until-idle")
            results = [wait4(p) for p in procs]
        wall = time.monotonic() - started
        load_after = os.getloadavg()
        log = sb.requests
        runs: dict[int, int] = {}
        for r in log:
            if r["path"] == BODY_PATH and r["status"] == 200:
                runs[r["person"]] = runs.get(r["person"], 0) + 1
        with engine.connect() as conn:
            statuses = dict(conn.execute(select(ACCOUNT.c.name, ACCOUNT.c.last_status)).all())
            ids = dict(conn.execute(select(ACCOUNT.c.id, ACCOUNT.c.name)).all())
        interrupted = {int(ids[i][1:]) for i in killed_held}  # p007 -> person 7
        left_locked = held_accounts(engine)
        missing = None
        if killed_held:  # a full re-read of each account the kill interrupted: a lost row comes back now
            before = rows_by_user(engine)
            with engine.begin() as conn:
                conn.execute(ACCOUNT.update().where(ACCOUNT.c.id.in_(killed_held)).values(due_at=None))
            code, _rss = wait4(
                start_worker({**env, "ETL_LOOKBACK_DAYS": "3650"}, logs / f"w{workers}-check.log", "--until-idle")
            )
            after = rows_by_user(engine)
            missing = sum(after.get(k, 0) - before.get(k, 0) for k in after)
        return {
            "workers": workers,
            "accounts": len(names),
            "wall_s": round(wall, 1),
            "exit_codes": [c for c, _ in results],
            "peak_rss_mb": [round(m) for _, m in results],
            "whoop_requests": sum(1 for r in log if r["provider"] == "whoop"),
            "withings_requests": sum(1 for r in log if r["provider"] == "withings"),
            "whoop_per_min_mean": round(sum(1 for r in log if r["provider"] == "whoop") / wall * 60),
            "whoop_busiest_minute": meter.busiest_minute(1),
            "withings_busiest_minute": meter.busiest_minute(2),
            "whoop_429": sum(1 for r in log if r["provider"] == "whoop" and r["status"] == 429),
            # A second body request of an account the kill interrupted is its resumed run, not a duplicate.
            "accounts_synced_twice": sum(1 for p, n in runs.items() if n > 1 and p not in interrupted),
            "interrupted_accounts_resumed": sum(1 for p in interrupted if runs.get(p, 0) >= 1),
            "accounts_not_synced": len(names) - len(runs),
            "statuses": {s: list(statuses.values()).count(s) for s in set(statuses.values())},
            "must_reconnect": sorted(n for n, s in statuses.items() if s == "reconnect"),
            "cross_account_rows": cross_account_rows(engine),
            "left_locked": len(left_locked),
            "kill": kill_note,
            "rows_missing_after_kill": missing,
            "load_avg_before_after": (round(load_before[0], 2), round(load_after[0], 2)),
        }
    finally:
        engine.dispose()
        sb.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--days", type=int, default=14, help="days of history per person (the first sync reads all)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--rate-scale", type=int, default=1, help="multiply the sandbox's and the clients' limits")
    parser.add_argument("--kill", action="store_true", help="SIGKILL one worker a third of the way through")
    args = parser.parse_args()
    url = os.environ.get("BENCH_POSTGRES_URL", DEFAULT_URL)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for workers in args.workers:
            print(run(args, workers, url, Path(tmp)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
