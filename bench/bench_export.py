"""Export benchmark: peak memory of `export all` for 1, 10 and 30 years of history.

    python bench/bench_export.py [--years 1 10 30] [--postgres-url URL] [--skip-postgres]

Each export runs in a child process that reports its peak RSS (Linux: /proc VmHWM) after start-up and after the
export, so the difference is what the data costs. Flat means it does not grow with the years.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from sqlalchemy.orm import Session  # noqa: E402 - imported once the checkout is on sys.path

from bench.bench_etl import _recreate_pg, machine  # noqa: E402 - imported once the checkout is on sys.path
from bench.bench_loader import WITHINGS_USER, history  # noqa: E402 - imported once the checkout is on sys.path
from storage.engine import ensure_schema, make_engine  # noqa: E402 - imported once the checkout is on sys.path
from tests.helpers import loaders  # noqa: E402 - imported once the checkout is on sys.path

CHILD = """
import json, sys, time
sys.path.insert(0, {project!r})

def peak_kb():
    # VmHWM (peak resident set) restarts at exec; ru_maxrss would carry the parent's peak over.
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

from storage.engine import make_engine
from readers.export import export_tables, exportable_tables
engine = make_engine({url!r}, read_only=True)
tables = exportable_tables(engine)
with engine.connect() as conn:
    pass
before = peak_kb()
start = time.perf_counter()
done = export_tables(engine, tables, {fmt!r}, {out!r})
seconds = time.perf_counter() - start
after = peak_kb()
print(json.dumps({{"rows": sum(d.rows for d in done), "seconds": seconds, "before_kb": before, "after_kb": after}}))
"""


def fill(url: str, years: int) -> None:
    """A migrated database holding `years` of synthetic history."""
    engine = make_engine(url)
    ensure_schema(engine)
    data = history(years)
    with Session(engine) as session:
        for kind, load in (
            ("cycles", loaders.load_cycles),
            ("recovery", loaders.load_recovery),
            ("sleep", loaders.load_sleep),
            ("workout", loaders.load_workout),
        ):
            load(session, data[kind])
        loaders.load_withings_measures(session, data["withings"], user_id=WITHINGS_USER, timezone="Europe/Paris")
        session.commit()
    engine.dispose()


def measure(url: str, fmt: str, out: str) -> dict:
    """One export in a child process: rows, seconds, peak RSS before and after (KiB)."""
    code = CHILD.format(project=str(PROJECT), url=url, fmt=fmt, out=out)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--postgres-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/whoop_bench_export")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    print(machine())
    print(
        f"{'database':10} {'years':>5} {'format':6} {'rows':>8} {'seconds':>8} {'start-up MiB':>12} "
        f"{'peak MiB':>9} {'growth MiB':>10}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for years in args.years:
            targets = [("sqlite", f"sqlite:///{tmp}/export-{years}.db")]
            if not args.skip_postgres:
                _recreate_pg(args.postgres_url)
                targets.append(("postgresql", args.postgres_url))
            for dialect, url in targets:
                started = time.perf_counter()
                fill(url, years)
                print(
                    f"# filled {dialect} with {years} years in {time.perf_counter() - started:.1f} s", file=sys.stderr
                )
                for fmt in ("csv", "jsonl"):
                    m = measure(url, fmt, f"{tmp}/out-{dialect}-{years}-{fmt}")
                    print(
                        f"{dialect:10} {years:>5} {fmt:6} {m['rows']:>8} {m['seconds']:>8.2f} "
                        f"{m['before_kb'] / 1024:>12.1f} {m['after_kb'] / 1024:>9.1f} "
                        f"{(m['after_kb'] - m['before_kb']) / 1024:>10.1f}"
                    )


if __name__ == "__main__":
    main()
