"""Loader benchmark: a synthetic 10-year history into SQLite and PostgreSQL.

    python bench/bench_loader.py [--years 10] [--postgres-url URL] [--skip-postgres]

Measures, per database: first load, identical reload, reload with 1% changed, the pre-fix
per-row loader (SELECT + INSERT/UPDATE + COMMIT per record) and a plain bulk INSERT floor.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from sqlalchemy import event, insert  # noqa: E402 - imported once the checkout is on sys.path
from sqlalchemy.orm import Session  # noqa: E402 - imported once the checkout is on sys.path

import models  # noqa: E402 - imported once the checkout is on sys.path
from bench.bench_etl import _recreate_pg, machine  # noqa: E402 - imported once the checkout is on sys.path
from bench.naive_loader import naive_load, naive_withings  # noqa: E402 - imported once the checkout is on sys.path
from configuration import clock  # noqa: E402 - imported once the checkout is on sys.path
from mapping import whoop as mappers  # noqa: E402 - imported once the checkout is on sys.path
from mapping import withings as withings_mapper  # noqa: E402 - imported once the checkout is on sys.path
from storage.engine import ensure_schema, make_engine  # noqa: E402 - imported once the checkout is on sys.path
from tests.helpers import factories as f  # noqa: E402 - imported once the checkout is on sys.path
from tests.helpers import loaders  # noqa: E402 - imported once the checkout is on sys.path

WITHINGS_USER = 3141592
WHOOP_KINDS = (
    ("cycles", loaders.load_cycles, mappers.cycle_to_row),
    ("recovery", loaders.load_recovery, mappers.recovery_to_row),
    ("sleep", loaders.load_sleep, mappers.sleep_to_row),
    ("workout", loaders.load_workout, mappers.workout_to_row),
)


def history(years: int, seed: int = 1) -> dict[str, list]:
    """About 3,650 cycles and recoveries, 4,000 sleeps, 3,000 workouts, 5,000 Withings groups."""
    rng, days = random.Random(seed), 365 * years
    sleeps = [f.sleep(d) for d in range(days)]
    sleeps += [f.sleep(100_000 + d, nap=True) for d in rng.sample(range(days), days // 10)]
    groups = [f.weight_group(10**9 + i, grams=rng.randint(76000, 84000), day=i % days) for i in range(days)]
    groups += [f.bp_group(2 * 10**9 + i, day=i % days) for i in range(int(days * 0.37))]
    return {
        "cycles": [f.cycle(d) for d in range(days)],
        "recovery": [f.recovery(d) for d in range(days)],
        "sleep": sleeps,
        "workout": [f.workout(d) for d in rng.sample(range(days), int(days * 0.82))],
        "withings": groups,
    }


def changed(data: dict[str, list], share: float = 0.01, seed: int = 2) -> dict[str, list]:
    """The same history with `share` of every collection rescored or edited."""
    rng = random.Random(seed)
    out = {k: [f.clone(r) for r in v] for k, v in data.items()}
    for kind, records in out.items():
        for record in rng.sample(records, max(1, int(len(records) * share))):
            if kind == "withings":
                record["measures"][0]["value"] += 100
                record["modified"] += 3600
            else:
                record["updated_at"] = f.iso(clock.utcnow())
    return out


@contextmanager
def count_writes(engine):
    writes = [0]

    def before(conn, cursor, statement, params, context, executemany):
        if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes[0] += 1

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield writes
    finally:
        event.remove(engine, "before_cursor_execute", before)


def project_load(engine, data) -> None:
    with Session(engine) as session:
        for kind, loader, _ in WHOOP_KINDS:
            loader(session, data[kind])
            session.commit()
        loaders.load_withings_measures(session, data["withings"], WITHINGS_USER, "Europe/Berlin")
        session.commit()


def naive(engine, data) -> None:
    with Session(engine) as session:
        for kind, _, mapper in WHOOP_KINDS:
            naive_load(session, models.metadata.tables[kind], data[kind], mapper)
        naive_withings(session, data["withings"], WITHINGS_USER, "Europe/Berlin")


def bulk_insert(engine, data) -> None:
    """The floor: the same mapped rows in one plain executemany INSERT per table."""
    now = clock.utcnow()
    with Session(engine) as session:
        for kind, _, mapper in WHOOP_KINDS:
            rows = [{**mapper(r, now=now), "synced_at": now} for r in data[kind]]
            session.execute(insert(models.metadata.tables[kind]), rows)
        by_table: dict[str, list[dict]] = {}
        for group in data["withings"]:
            for name, rows in withings_mapper.measure_group_to_rows(
                group, WITHINGS_USER, "Europe/Berlin", now=now
            ).items():
                by_table.setdefault(name, []).extend({**row, "synced_at": now} for row in rows)
        for name, rows in by_table.items():
            session.execute(insert(models.metadata.tables[name]), rows)
        session.commit()


def fresh(url: str | None, tmp: str, name: str):
    if url is None:
        engine = make_engine(f"sqlite:///{tmp}/{name}.db")
    else:
        _recreate_pg(url)
        engine = make_engine(url)
    ensure_schema(engine)
    return engine


def timed(engine, fn, data) -> tuple[float, int]:
    with count_writes(engine) as writes:
        start = time.perf_counter()
        fn(engine, data)
        return time.perf_counter() - start, writes[0]


def run(dialect: str, url: str | None, data, data_1pct, tmp: str) -> dict[str, tuple[float, int]]:
    results = {}
    for rep in range(3):  # best of three for the batched paths
        engine = fresh(url, tmp, f"project{rep}")
        for label, payload in (("first load", data), ("identical reload", data), ("reload, 1% changed", data_1pct)):
            t = timed(engine, project_load, payload)
            results[label] = min(results.get(label, t), t, key=lambda x: x[0])
        engine.dispose()
        engine = fresh(url, tmp, f"bulk{rep}")
        t = timed(engine, bulk_insert, data)
        results["plain bulk INSERT"] = min(results.get("plain bulk INSERT", t), t, key=lambda x: x[0])
        engine.dispose()
    engine = fresh(url, tmp, "naive")
    results["per-row loader (pre-fix)"] = timed(engine, naive, data)
    engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--postgres-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/whoop_bench")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    data = history(args.years)
    data_1pct = changed(data)
    total = sum(len(v) for v in data.values())
    print(f"# Loader benchmark: {args.years}-year history, {total} records ({machine()})")
    print("  " + ", ".join(f"{k} {len(v)}" for k, v in data.items()))
    dialects = {"sqlite": None} if args.skip_postgres else {"sqlite": None, "postgresql": args.postgres_url}
    with tempfile.TemporaryDirectory() as tmp:
        for dialect, url in dialects.items():
            results = run(dialect, url, data, data_1pct, tmp)
            print(f"\n## {dialect}\n| step | seconds | records/s | write statements |\n|---|---|---|---|")
            for label, (seconds, writes) in results.items():
                print(f"| {label} | {seconds:.2f} | {total / seconds:,.0f} | {writes} |")
            first, naive_t, bulk = (
                results[k][0] for k in ("first load", "per-row loader (pre-fix)", "plain bulk INSERT")
            )
            print(
                f"\nfirst load vs per-row: {naive_t / first:.1f}x faster (target >= 20x); "
                f"vs plain bulk INSERT: {first / bulk:.2f}x (target <= 3x); "
                f"identical reload writes: {results['identical reload'][1]} (target 0)"
            )
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
