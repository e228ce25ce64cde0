"""Series benchmark: one sandbox year of Withings intraday samples and sleep series, SQLite and PostgreSQL.

    python bench/bench_series.py [--days 365] [--postgres-url URL] [--skip-postgres]

Per database, day by day (one 24-hour answer per endpoint, as a sync reads them): the loader's
first load (db_loader.load_page: mapping, the stored-range SELECT, the bulk INSERT, one
transaction a day) against a plain bulk insert of the same rows into the same tables in a
second database (DBAPI executemany on SQLite, psycopg2 execute_values on PostgreSQL, one
transaction a day). The mapping is timed on its own too. Then the same year loaded again: the
write statements it sends (target 0). Peak RSS, and RSS every 60 days (flat as history grows).
Both sides run under the garbage-collector setting of a sync (sync/runner.py).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from sqlalchemy import event  # noqa: E402 - imported once the checkout is on sys.path

from api_clients.pages import Page  # noqa: E402 - imported once the checkout is on sys.path
from bench.bench_etl import _recreate_pg, machine  # noqa: E402 - imported once the checkout is on sys.path
from db_loader import load_page  # noqa: E402 - imported once the checkout is on sys.path
from mapping.fields import RowsByTable  # noqa: E402 - imported once the checkout is on sys.path
from sandbox.app import SandboxApp, SandboxOptions  # noqa: E402 - imported once the checkout is on sys.path
from storage.engine import ensure_schema, make_engine  # noqa: E402 - imported once the checkout is on sys.path
from storage.series import bulk_insert  # noqa: E402 - imported once the checkout is on sys.path
from storage.write import key_of, target_of  # noqa: E402 - imported once the checkout is on sys.path
from sync import resources  # noqa: E402 - imported once the checkout is on sys.path
from sync.runner import _fewer_collections  # noqa: E402 - imported once the checkout is on sys.path

USER = 3141592
DAY = 86_400
SLEEP, INTRADAY = resources.get("withings", "sleep_series"), resources.get("withings", "intraday")


def days_of(count: int):
    """(sleep records, intraday records) of each UTC day of a sandbox person with a year of series."""
    now = datetime.now(timezone.utc).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    app = SandboxApp(SandboxOptions(days=count, seed=7, now=now, series_days=None))
    life = app.people.life(0)
    day = life.series.series_from
    while day <= life.history.last_day:
        start = int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())
        params = {"startdate": str(start), "enddate": str(start + DAY - 1)}
        sleep = life.series.answer("/v2/sleep", "get", {**params, "data_fields": ",".join(SLEEP.data_fields)}, 100)
        intraday = life.series.answer(
            "/v2/measure", "getintradayactivity", {**params, "data_fields": ",".join(INTRADAY.data_fields)}, 100
        )
        yield SLEEP.records_of(sleep[1]), INTRADAY.records_of(intraday[1])
        day += timedelta(days=1)


def rss_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def _mapped_rows(declared, records: list, now: datetime, before: set, seen: set) -> dict:
    """The rows the loader writes, per table, each natural key once (a segment touching two days
    comes in both days' answers): what a plain bulk insert of the same rows inserts. `before`
    holds the previous day's keys, `seen` collects this day's."""
    out: dict = {}
    tables = {t.name: t for t in declared.tables}
    for record in records:
        mapped = declared.mapper(record, USER, now=now)
        if isinstance(mapped, RowsByTable):
            pairs = [(tables[name], row) for name, rows in mapped.items() for row in rows]
        else:
            pairs = [(declared.model, mapped)]
        for table, row in pairs:
            key = (table.name, *key_of(row, target_of(table).key))
            if key in before or key in seen:
                continue
            seen.add(key)
            out.setdefault(table, []).append({**row, "synced_at": now})
    return out


def run(dialect: str, url_a: str | None, url_b: str | None, days: int, tmp: str) -> dict:
    if dialect == "sqlite":
        url_a, url_b = f"sqlite:///{tmp}/loader.db", f"sqlite:///{tmp}/bulk.db"
    else:
        _recreate_pg(url_a)
        _recreate_pg(url_b)
    loader, bulk = make_engine(url_a), make_engine(url_b)
    ensure_schema(loader)
    ensure_schema(bulk)
    t = {"load": 0.0, "map": 0.0, "bulk": 0.0, "rerun": 0.0}
    cpu = {"load": 0.0, "map": 0.0, "bulk": 0.0}
    rows = {"intraday": 0, "sleep series": 0, "segments": 0}
    rss, seen, index = [], set(), 0
    for sleep_records, intraday_records in days_of(days):
        now = datetime.now(timezone.utc)
        index += 1
        before, seen = seen, set()
        for declared, records in ((SLEEP, sleep_records), (INTRADAY, intraday_records)):
            started, started_cpu = time.perf_counter(), time.process_time()
            by_table = _mapped_rows(declared, records, now, before, seen)
            t["map"] += time.perf_counter() - started
            cpu["map"] += time.process_time() - started_cpu
            started, started_cpu = time.perf_counter(), time.process_time()
            with bulk.connect() as conn:
                for table, table_rows in by_table.items():
                    bulk_insert(conn, table, table_rows)
                conn.commit()
            t["bulk"] += time.perf_counter() - started
            cpu["bulk"] += time.process_time() - started_cpu
            for table, table_rows in by_table.items():
                name = {"withings_intraday": "intraday", "withings_sleep_series": "sleep series"}.get(table.name)
                rows[name or "segments"] += len(table_rows)
            started, started_cpu = time.perf_counter(), time.process_time()
            with loader.connect() as conn:
                load_page(conn, declared, Page(records=records), USER)
                conn.commit()
            t["load"] += time.perf_counter() - started
            cpu["load"] += time.process_time() - started_cpu
        if index % 60 == 0:
            rss.append(round(rss_mib()))
    writes = []
    event.listen(loader, "before_cursor_execute", lambda *a: writes.append(a[2]))
    written = 0
    for sleep_records, intraday_records in days_of(days):
        started = time.perf_counter()
        for declared, records in ((SLEEP, sleep_records), (INTRADAY, intraday_records)):
            with loader.connect() as conn:
                counts = load_page(conn, declared, Page(records=records), USER)
                conn.commit()
            written += counts.inserted + counts.updated
        t["rerun"] += time.perf_counter() - started
    statements = sum(1 for s in writes if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")))
    loader.dispose()
    bulk.dispose()
    return {"seconds": t, "cpu": cpu, "rows": rows, "rss": rss, "rerun_statements": statements, "rerun_rows": written}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--postgres-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/whoop_bench_series")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    print(f"# Series benchmark: {args.days} sandbox days of intraday and sleep series ({machine()})")
    dialects = ["sqlite"] if args.skip_postgres else ["sqlite", "postgresql"]
    # Both sides under the collector setting a sync runs with (sync/runner.py).
    with tempfile.TemporaryDirectory() as tmp, _fewer_collections:
        for dialect in dialects:
            result = run(dialect, args.postgres_url, args.postgres_url + "_bulk", args.days, tmp)
            t, rows = result["seconds"], result["rows"]
            total = sum(rows.values())
            print(f"\n## {dialect}: {', '.join(f'{v:,} {k}' for k, v in rows.items())} ({total:,} rows)")
            c = result["cpu"]
            print("| step | seconds | CPU seconds (this process) | rows/s |\n|---|---|---|---|")
            for label, name in (
                ("loader first load (mapping included)", "load"),
                ("mapping alone", "map"),
                ("plain bulk insert of the mapped rows", "bulk"),
            ):
                print(f"| {label} | {t[name]:.2f} | {c[name]:.2f} | {total / t[name]:,.0f} |")
            print(f"| identical re-run | {t['rerun']:.2f} | | {total / t['rerun']:,.0f} |")
            print(
                f"\nfirst load vs plain bulk insert: {t['load'] / t['bulk']:.2f}x (target <= 1.5x; "
                f"CPU {c['load'] / c['bulk']:.2f}x); "
                f"without the mapping: {(t['load'] - t['map']) / t['bulk']:.2f}x; "
                f"re-run write statements: {result['rerun_statements']} (rows {result['rerun_rows']}, target 0); "
                f"RSS every 60 days: {result['rss']} MiB"
            )
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
