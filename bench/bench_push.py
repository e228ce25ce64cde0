"""Push: how soon a pushed event's data is a committed row, with the real `serve` (receiver and
processor in one process) and the sandbox answering every API request after `--latency-ms`.

Each round changes the sandbox's data through its admin API, which pushes as WHOOP and Withings
do: a weigh-in (one Withings notification: one getmeas), then a rescore of the newest day (WHOOP
`sleep.updated`, `recovery.updated` and `workout.updated`: the recovery alone is three requests).
The latency of an event is from its delivery (`inbound_event.received_at`, the receiver's commit)
to its committed rows (`processed_at`, written in the transaction that stores them), both on
`serve`'s clock. Results go to docs/BENCHMARKS.md by hand.

    python bench/bench_push.py --rounds 20                 # SQLite, 50 ms answers
    python bench/bench_push.py --rounds 20 --db-url postgresql+psycopg2://postgres@127.0.0.1/bench_push
    python bench/bench_push.py --rounds 20 --db-url postgresql+psycopg2://... --worker   # serve --no-process + worker
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

import requests  # noqa: E402 - imported once the checkout is on sys.path
from sqlalchemy import func, select  # noqa: E402 - imported once the checkout is on sys.path

import models  # noqa: E402 - imported once the checkout is on sys.path
from bench.bench_etl import machine  # noqa: E402 - imported once the checkout is on sys.path
from configuration import clock  # noqa: E402 - imported once the checkout is on sys.path
from sandbox import SandboxServer  # noqa: E402 - imported once the checkout is on sys.path
from storage import accounts  # noqa: E402 - imported once the checkout is on sys.path
from storage.engine import ensure_schema, make_engine  # noqa: E402 - imported once the checkout is on sys.path

EVENT = models.inbound_event


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(db_url: str, sb: SandboxServer):
    engine = make_engine(db_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    ensure_schema(engine)
    who = sb.app.people.identity(0)
    with engine.begin() as conn:
        account_id = accounts.ensure(conn)
        accounts.link(conn, account_id, "whoop", who.whoop_user_id)
        accounts.link(conn, account_id, "withings", int(who.withings_userid))
        # Not due for a day: a worker started by --worker only processes events.
        now = clock.utcnow()
        accounts.set_outcome(conn, account_id, status="ok", ran_at=now, due_at=now + timedelta(days=1))
    return engine


def environment(sb: SandboxServer, db_url: str, secret: str) -> dict:
    return {
        **os.environ,
        **sb.environment(mint_tokens=True),
        "DATABASE_URL": db_url,
        "WHOOP_PLATFORM_NO_DOTENV": "1",
        "WITHINGS_WEBHOOK_SECRET": secret,
    }


def start_serve(env: dict, port: int, process: bool) -> subprocess.Popen:
    command = [sys.executable, str(PROJECT / "etl.py"), "serve", "--port", str(port), "--rate-limit", "100000"]
    command += [] if process else ["--no-process"]
    proc = subprocess.Popen(command, env=env, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"serve did not start: {proc.stderr.read().decode()[-2000:]}")


def wait_processed(engine, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    query = select(func.count()).select_from(EVENT).where(EVENT.c.processed_at.is_not(None))
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(query).scalar() >= count:
                return True
        time.sleep(0.05)
    return False


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def summary(label: str, values: list[float]) -> str:
    if not values:
        return f"{label}: none"
    return (
        f"{label}: n={len(values)} median {statistics.median(values) * 1000:.0f} ms, "
        f"p95 {percentile(values, 0.95) * 1000:.0f} ms, worst {max(values) * 1000:.0f} ms"
    )


def one_round(sb: SandboxServer, round_no: int) -> None:
    requests.post(f"{sb.url}/_sandbox/weigh-in", params={"kg": 80 + round_no / 10}, timeout=10).raise_for_status()
    requests.post(f"{sb.url}/_sandbox/rescore", timeout=10).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument(
        "--gap",
        type=float,
        default=4.0,
        help="seconds between rounds (a round is 5 WHOOP requests: under its 100 a minute)",
    )
    parser.add_argument("--db-url", default=None, help="default: a SQLite file in a temporary folder")
    parser.add_argument(
        "--worker", action="store_true", help="serve --no-process, and a `worker` processes (PostgreSQL)"
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        SandboxServer(days=30, seed=42, now=clock.utcnow() - timedelta(days=1)) as sb,
    ):
        db_url = args.db_url or f"sqlite:///{tmp}/push.db"
        engine = prepare(db_url, sb)
        port, secret = free_port(), secrets.token_urlsafe(32)
        env = environment(sb, db_url, secret)
        proc = start_serve(env, port, process=not args.worker)
        worker = None
        if args.worker:
            command = [sys.executable, str(PROJECT / "etl.py"), "worker"]
            worker = subprocess.Popen(
                command, env=env, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        try:
            sb.push.configure(
                whoop_url=f"http://127.0.0.1:{port}/webhooks/whoop",
                withings_url=f"http://127.0.0.1:{port}/webhooks/withings/{secret}",
            )
            requests.post(f"{sb.url}/_sandbox/latency", params={"ms": args.latency_ms}, timeout=10).raise_for_status()
            for round_no in range(args.rounds):
                one_round(sb, round_no)
                time.sleep(args.gap)
            assert sb.push.wait_idle(60)
            delivered = sum(1 for entry in sb.push.log if entry["outcome"] == "delivered")
            if not wait_processed(engine, delivered, 120):
                print("warning: not every event was processed within 120 s")
            report(engine, sb, args, delivered)
        finally:
            for child in filter(None, (proc, worker)):
                child.terminate()
                child.wait(10)
        engine.dispose()


def report(engine, sb: SandboxServer, args, delivered: int) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            select(EVENT.c.provider, EVENT.c.event_type, EVENT.c.received_at, EVENT.c.processed_at, EVENT.c.outcome)
        ).all()
    done = [r for r in rows if r.processed_at is not None]
    latency = {"whoop": [], "withings": [], "all": []}
    for row in done:
        seconds = (row.processed_at - row.received_at).total_seconds()
        latency[row.provider].append(seconds)
        latency["all"].append(seconds)
    requests_made = [r for r in sb.app.requests if "oauth" not in r["path"]]
    print(f"machine: {machine()}")
    by = "a worker (serve --no-process)" if args.worker else "serve"
    print(
        f"{args.rounds} rounds, {args.latency_ms} ms per API answer, {delivered} deliveries, {len(done)} processed by {by}"
    )
    print("outcomes:", {o: sum(1 for r in done if r.outcome == o) for o in {r.outcome for r in done}})
    for name in ("withings", "whoop", "all"):
        print(summary(f"delivery -> committed row, {name}", latency[name]))
    print(f"API requests for them: {len(requests_made)} ({len(requests_made) / max(len(done), 1):.1f} per event)")


if __name__ == "__main__":
    main()
