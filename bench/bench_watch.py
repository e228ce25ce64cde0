"""`etl.py watch` against the sandbox: how soon a new weigh-in and a new WHOOP score reach the
database, and how many requests a day it spends doing so. Results go to docs/BENCHMARKS.md by hand.

    python bench/bench_watch.py --minutes 30        # the default schedule: Withings 90 s, WHOOP 10 min
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from sqlalchemy import create_engine, text  # noqa: E402 - imported once the checkout is on sys.path
from sqlalchemy.exc import OperationalError  # noqa: E402 - imported once the checkout is on sys.path

from bench.bench_etl import machine  # noqa: E402 - imported once the checkout is on sys.path
from sandbox import SandboxServer  # noqa: E402 - imported once the checkout is on sys.path

WHOOP_PATHS, WITHINGS_PATHS = ("/developer/v2/", "/oauth/oauth2/token"), ("/measure", "/v2/oauth2")


def wait_for(engine, sql: str, params: dict, deadline: float) -> float | None:
    """Seconds until `sql` returns a non-NULL value, polling the database twice a second."""
    started = time.monotonic()
    while time.monotonic() < deadline:
        try:
            with engine.connect() as conn:
                if conn.execute(text(sql), params).scalar() is not None:
                    return time.monotonic() - started
        except OperationalError as exc:  # before watch's first migration: no tables yet
            if "no such table" not in str(exc):
                raise
        time.sleep(0.5)
    return None


def start(tmp: str) -> tuple[SandboxServer, subprocess.Popen, object, dict]:
    sb = SandboxServer(days=60, seed=42, now=datetime.now(timezone.utc) - timedelta(days=1)).start()
    pending = sb.app.advance_day()[0]["cycle_id"]  # the sandbox's "today" is ours: its newest day awaits a score
    db_url = f"sqlite:///{tmp}/watch.db"
    env = {
        **os.environ,
        **sb.environment(mint_tokens=False),
        "DATABASE_URL": db_url,
        "WHOOP_PLATFORM_NO_DOTENV": "1",
        "WHOOP_REFRESH_TOKEN": sb.mint_refresh_token("whoop"),
        "WITHINGS_REFRESH_TOKEN": sb.mint_refresh_token("withings"),
    }
    proc = subprocess.Popen(
        [sys.executable, "etl.py", "watch"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    engine = create_engine(db_url)
    deadline = time.monotonic() + 300
    if wait_for(engine, "SELECT MIN(last_success_at) FROM sync_state HAVING COUNT(*) = 5", {}, deadline) is None:
        raise SystemExit("watch did not finish its first reconciliation")
    return sb, proc, engine, {"pending": pending}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    args = parser.parse_args()
    print(f"# watch, default schedule, {args.minutes:g} min ({machine()})")
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        sb, proc, engine, state = start(tmp)
        sb.clear_requests()
        began, end = time.monotonic(), time.monotonic() + args.minutes * 60
        weigh, score, next_whoop = [], [], time.monotonic() + rng.uniform(60, 300)
        while time.monotonic() < end - 130:
            if time.monotonic() >= next_whoop and time.monotonic() < end - 900:
                scored = state["pending"]
                state["pending"] = sb.app.advance_day()[0]["cycle_id"]
                seconds = wait_for(
                    engine,
                    "SELECT recovery_score FROM recovery WHERE whoop_cycle_id = :id",
                    {"id": scored},
                    time.monotonic() + 900,
                )
                score.append(seconds)
                print(f"WHOOP score of cycle {scored}: {seconds if seconds is None else round(seconds)} s", flush=True)
                next_whoop = time.monotonic() + rng.uniform(60, 300)
                continue
            grpid = sb.app.add_weigh_in(round(rng.uniform(70, 72), 2))
            seconds = wait_for(
                engine, "SELECT weight_kg FROM withings_weight WHERE grpid = :g", {"g": grpid}, time.monotonic() + 120
            )
            weigh.append(seconds)
            print(f"weigh-in {grpid}: {seconds if seconds is None else round(seconds)} s", flush=True)
            time.sleep(rng.uniform(5, 60))
        elapsed = time.monotonic() - began
        made = list(sb.requests)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        output = proc.stdout.read()
        sb.stop()
    report(made, elapsed, code, output, weigh, score)


def report(made: list, elapsed: float, code: int, output: str, weigh: list, score: list) -> None:
    per_day = {
        name: sum(1 for r in made if r["path"].startswith(paths)) * 86_400 / elapsed
        for name, paths in (("whoop", WHOOP_PATHS), ("withings", WITHINGS_PATHS))
    }
    print(
        f"\nexit on SIGTERM: {code}; printed budget:\n"
        + "".join(line for line in output.splitlines(True) if "requests a day" in line)
    )
    print("| measure | samples | median | worst | goal |\n|---|---|---|---|---|")
    for label, values, goal in (
        ("new weigh-in in the database", weigh, "2 min"),
        ("new WHOOP score in the database", score, "15 min"),
    ):
        got = [v for v in values if v is not None]
        print(
            f"| {label} | {len(values)} ({len(values) - len(got)} missed) | "
            f"{statistics.median(got):.0f} s | {max(got):.0f} s | {goal} |"
            if got
            else f"| {label} | 0 | - | - | {goal} |"
        )
    print(
        f"| Withings requests per day (measured over {elapsed / 60:.0f} min) | | {per_day['withings']:.0f} | | < 1,500 |"
    )
    print(f"| WHOOP requests per day (measured over {elapsed / 60:.0f} min) | | {per_day['whoop']:.0f} | | < 400 |")


if __name__ == "__main__":
    main()
