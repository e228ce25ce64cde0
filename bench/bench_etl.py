"""ETL benchmarks against the sandbox: incremental cost vs history, backfill under rate limits,
concurrency gain, and the per-row baseline. Results go to docs/BENCHMARKS.md by hand.

    python bench/bench_etl.py incremental      # 1 vs 10 years, 50 ms latency per request
    python bench/bench_etl.py backfill --years 10   # full load under WHOOP's 100 requests/minute
    python bench/bench_etl.py concurrency      # resources fetched at once vs one at a time
    python bench/bench_etl.py baseline         # batched loader vs per-row loader, whole ETL
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from sandbox import SandboxServer  # noqa: E402 - imported once the checkout is on sys.path

DATA_PREFIXES = ("/developer/v2/", "/measure", "/v2/measure", "/v2/sleep", "/oauth/oauth2/token", "/v2/oauth2")


def machine(dated: bool = True) -> str:
    """The processor, cores and Python version, and today's date unless `dated` is False."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    described = f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
    return f"{described}, {datetime.now():%Y-%m-%d}" if dated else described


def sandbox(days: int, **options) -> SandboxServer:
    now = datetime.now(timezone.utc) - timedelta(days=1)
    return SandboxServer(days=days, seed=42, now=now, **options).start()


def etl(sb: SandboxServer, db_url: str, *args: str, extra_env: dict | None = None) -> tuple[float, int, int]:
    """Run `python etl.py ARGS` cold; returns (seconds, exit code, data/token requests made)."""
    env = {
        **os.environ,
        **sb.environment(mint_tokens=False),
        "DATABASE_URL": db_url,
        "WHOOP_PLATFORM_NO_DOTENV": "1",
        **(extra_env or {}),
    }
    before = len(sb.requests)
    start = time.perf_counter()
    code = subprocess.call([sys.executable, "etl.py", "--quiet", *args], cwd=PROJECT, env=env)
    seconds = time.perf_counter() - start
    made = [r for r in sb.requests[before:] if r["path"].startswith(DATA_PREFIXES)]
    return seconds, code, len(made)


def seed_tokens(sb: SandboxServer, db_url: str) -> None:
    """Store freshly minted refresh tokens, as `connect` would."""
    os.environ["WHOOP_REFRESH_TOKEN"] = sb.mint_refresh_token("whoop")
    os.environ["WITHINGS_REFRESH_TOKEN"] = sb.mint_refresh_token("withings")


def bench_incremental(args) -> None:
    print(f"# Incremental run, {args.latency_ms} ms latency per request ({machine()})")
    rows = {}
    for years in args.years:
        with tempfile.TemporaryDirectory() as tmp:
            sb = sandbox(365 * years)
            db_url = f"sqlite:///{tmp}/bench.db"
            seed_tokens(sb, db_url)
            full, code, requests_full = etl(sb, db_url)
            assert code == 0, "full load failed"
            sb.app.faults.latency_ms = args.latency_ms
            runs = [etl(sb, db_url) for _ in range(args.repeat)]
            assert all(code == 0 for _, code, _ in runs)
            rows[years] = (statistics.median(s for s, _, _ in runs), max(n for _, _, n in runs), full, requests_full)
            sb.stop()
    print(
        "| history | full load (no latency) | incremental run (median of %d) | requests per incremental run |"
        % args.repeat
    )
    print("|---|---|---|---|")
    for years, (inc, req, full, req_full) in rows.items():
        print(f"| {years} y | {full:.2f} s ({req_full} requests) | {inc:.2f} s | {req} |")
    if len(rows) == 2:
        (a, b) = rows.values()
        print(f"\nratio {max(rows)}y/{min(rows)}y incremental time: {b[0] / a[0]:.2f} (target <= 1.2)")


def bench_backfill(args) -> None:
    print(f"# Full backfill of {args.years[-1]} years under WHOOP {args.rate_limit}/min ({machine()})")
    with tempfile.TemporaryDirectory() as tmp:
        for years in args.years:
            sb = sandbox(365 * years, whoop_rate_limit=args.rate_limit)
            db_url = f"sqlite:///{tmp}/backfill{years}.db"
            seed_tokens(sb, db_url)
            seconds, code, made = etl(sb, db_url)
            whoop = sum(1 for r in sb.requests if r["path"].startswith("/developer/v2/"))
            rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            bound = whoop / args.rate_limit * 60
            print(
                f"| {years} y | exit {code} | {seconds:.0f} s | {whoop} WHOOP requests | lower bound "
                f"{bound:.0f} s | ratio {seconds / bound:.2f} | 429s {sum(1 for r in sb.requests if r['status'] == 429)} "
                f"| peak RSS so far {rss:.0f} MiB |"
            )
            sb.stop()


# "No rate limit": the client's pacing raised, and the sandbox's X-RateLimit-* headers raised to
# match (the client obeys the server's Remaining/Reset whatever its own setting says).
UNLIMITED = {"WHOOP_REQUESTS_PER_MINUTE": "100000", "WITHINGS_REQUESTS_PER_MINUTE": "100000"}
UNLIMITED_SANDBOX = {"whoop_rate_limit": 100_000}


def bench_concurrency(args) -> None:
    print(f"# Concurrency: full load of {args.years[0]} y, {args.latency_ms} ms latency ({machine()})")
    for label, workers, limits in (
        ("one resource at a time, real rate limits", "1", {}),
        ("all five at once, real rate limits", "0", {}),
        ("one resource at a time, no client rate limit", "1", UNLIMITED),
        ("all five at once, no client rate limit", "0", UNLIMITED),
    ):
        with tempfile.TemporaryDirectory() as tmp:
            sb = sandbox(365 * args.years[0], latency_ms=args.latency_ms, **(UNLIMITED_SANDBOX if limits else {}))
            db_url = f"sqlite:///{tmp}/c.db"
            seed_tokens(sb, db_url)
            seconds, code, made = etl(sb, db_url, extra_env={"ETL_FETCH_CONCURRENCY": workers, **limits})
            print(f"| {label} | {seconds:.1f} s | {made} requests | exit {code} |")
            sb.stop()


def bench_baseline(args) -> None:
    from bench.naive_loader import naive_page
    from configuration.settings import get_settings
    from sync import runner as runner_module
    from sync import service
    from sync.report import Reporter

    print(f"# Whole ETL, full load of {args.years[0]} y: batched vs per-row loader ({machine()})")
    urls = {"sqlite": None, "postgresql": args.postgres_url}
    os.environ.update(UNLIMITED)  # the loaders, not WHOOP's 100 requests/minute, are measured here
    for dialect, url in urls.items():
        for label in ("project (batched)", "per-row baseline"):
            with tempfile.TemporaryDirectory() as tmp:
                db_url = url or f"sqlite:///{tmp}/b.db"
                if dialect == "postgresql":
                    _recreate_pg(url)
                sb = sandbox(365 * args.years[0], **UNLIMITED_SANDBOX)
                os.environ.update(sb.environment())
                os.environ["DATABASE_URL"] = db_url
                # The runner loads every page through db_loader.load_page.
                saved = runner_module.load_page
                if label.startswith("per-row"):
                    runner_module.load_page = naive_page
                start = time.perf_counter()
                outcome = service.run_once(
                    settings=get_settings(read_dotenv=False), reporter=Reporter(interactive=False, quiet=True)
                )
                seconds = time.perf_counter() - start
                runner_module.load_page = saved
                rows = sum(r.counts.inserted for r in outcome.results)
                print(f"| {dialect} | {label} | {seconds:.2f} s | {rows} rows | exit {outcome.exit_code} |")
                sb.stop()


def _recreate_pg(url: str) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["incremental", "backfill", "concurrency", "baseline"])
    parser.add_argument("--years", type=int, nargs="+", default=None)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rate-limit", type=int, default=100)
    parser.add_argument("--postgres-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/whoop_bench_etl")
    args = parser.parse_args()
    defaults = {"incremental": [1, 10], "backfill": [1, 10], "concurrency": [3], "baseline": [3]}
    args.years = args.years or defaults[args.what]
    {
        "incremental": bench_incremental,
        "backfill": bench_backfill,
        "concurrency": bench_concurrency,
        "baseline": bench_baseline,
    }[args.what](args)


if __name__ == "__main__":
    main()
