"""A plain per-row sync script, the peer the benchmarks hold the project against.

    PEER_WHOOP_ACCESS_TOKEN=... PEER_WITHINGS_ACCESS_TOKEN=... \\
        python bench/peer_script.py --db peer.db --base-url http://127.0.0.1:PORT --since-days 7
    python bench/peer_script.py --db peer.db --base-url ... --full [--whoop-only]

Written the way a user would write it, in the style of the code before the batched loader:
requests and sqlite3 only, one request after another, and for every row one SELECT, then one
INSERT or UPDATE, then one COMMIT. Its small schema lives in its own SQLite file (sqlite3's
defaults: rollback journal, synchronous FULL). It sends the project's requests where they
overlap (WHOOP's four collections with `limit=25`, `start` and `nextToken` paging; Withings
getmeas with the same meastypes, `category=1` and `lastupdate`, `more`/`offset` paging) and
nothing else: no body measurement, no daily Withings resources, no deletion listing, no token
refresh (the benchmark hands it the access tokens the project stored).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from datetime import datetime, timedelta, timezone

import requests

WHOOP_COLLECTIONS = {  # table: (path, the field that identifies a record)
    "whoop_cycle": ("/developer/v2/cycle", "id"),
    "whoop_recovery": ("/developer/v2/recovery", "cycle_id"),
    "whoop_sleep": ("/developer/v2/activity/sleep", "id"),
    "whoop_workout": ("/developer/v2/activity/workout", "id"),
}
WHOOP_PAGE_LIMIT = 25  # WHOOP's largest page, as the project asks
MEASTYPES = "1,4,5,6,8,9,10,11,12,54,71,73,76,77,88,91,123,155,167,168,169,170,226"  # the project's list
WEIGHT = 1
TIMEOUT_SECONDS = 30

WHOOP_TABLE = """CREATE TABLE IF NOT EXISTS {table} (record_key TEXT PRIMARY KEY, user_id INTEGER,
    start TEXT, "end" TEXT, score_state TEXT, updated_at TEXT, raw TEXT, synced_at TEXT)"""
WITHINGS_TABLE = """CREATE TABLE IF NOT EXISTS withings_group (grpid INTEGER PRIMARY KEY, date INTEGER,
    modified INTEGER, category INTEGER, weight_kg REAL, raw TEXT, synced_at TEXT)"""


def open_db(path: str) -> sqlite3.Connection:
    """The peer's database with its tables (created on first use)."""
    conn = sqlite3.connect(path)
    for table in WHOOP_COLLECTIONS:
        conn.execute(WHOOP_TABLE.format(table=table))
    conn.execute(WITHINGS_TABLE)
    conn.commit()
    return conn


def write_row(conn: sqlite3.Connection, table: str, key_column: str, row: dict) -> str:
    """SELECT by key, then INSERT or UPDATE, then COMMIT; returns 'inserted' or 'updated'."""
    found = conn.execute(f"SELECT 1 FROM {table} WHERE {key_column} = ?", (row[key_column],)).fetchone()
    if found is None:
        columns = ", ".join(f'"{c}"' for c in row)
        conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
        outcome = "inserted"
    else:
        assignments = ", ".join(f'"{c}" = ?' for c in row if c != key_column)
        values = [v for c, v in row.items() if c != key_column] + [row[key_column]]
        conn.execute(f"UPDATE {table} SET {assignments} WHERE {key_column} = ?", values)
        outcome = "updated"
    conn.commit()
    return outcome


def whoop_records(session: requests.Session, base_url: str, path: str, start: str | None):
    """Every record of one WHOOP collection from `start` on, page after page."""
    params: dict[str, object] = {"limit": WHOOP_PAGE_LIMIT}
    if start is not None:
        params["start"] = start
    while True:
        response = session.get(base_url + path, params=params, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        body = response.json()
        yield from body.get("records") or []
        if not body.get("next_token"):
            return
        params["nextToken"] = body["next_token"]


def whoop_row(record: dict, key_field: str) -> dict:
    """The peer's columns of one WHOOP record."""
    return {
        "record_key": str(record[key_field]),
        "user_id": record.get("user_id"),
        "start": record.get("start"),
        "end": record.get("end"),
        "score_state": record.get("score_state"),
        "updated_at": record.get("updated_at"),
        "raw": json.dumps(record),
        "synced_at": _now_iso(),
    }


def withings_groups(session: requests.Session, base_url: str, lastupdate: int):
    """Every getmeas group changed since `lastupdate`, page after page."""
    form: dict[str, object] = {"action": "getmeas", "meastypes": MEASTYPES, "category": 1, "lastupdate": lastupdate}
    while True:
        response = session.post(base_url + "/measure", data=form, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        body = response.json()
        if body.get("status") != 0:
            raise RuntimeError(f"Withings getmeas answered status {body.get('status')}")
        yield from body["body"].get("measuregrps") or []
        if not body["body"].get("more"):
            return
        form["offset"] = body["body"]["offset"]


def withings_row(group: dict) -> dict:
    """The peer's columns of one measure group (the weight decoded, the rest kept raw)."""
    weight = next((m["value"] * 10 ** m["unit"] for m in group.get("measures", []) if m.get("type") == WEIGHT), None)
    return {
        "grpid": group["grpid"],
        "date": group.get("date"),
        "modified": group.get("modified"),
        "category": group.get("category"),
        "weight_kg": weight,
        "raw": json.dumps(group),
        "synced_at": _now_iso(),
    }


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def _session(token_variable: str) -> requests.Session:
    token = os.environ.get(token_variable)
    if not token:
        raise SystemExit(f"peer: set {token_variable} (an access token; the peer never refreshes one)")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def sync(conn: sqlite3.Connection, base_url: str, since: datetime | None, whoop_only: bool) -> dict:
    """Fetch and write everything in order; returns the count of inserted and updated rows."""
    counts = {"inserted": 0, "updated": 0}
    start = since.isoformat(timespec="milliseconds").replace("+00:00", "Z") if since else None
    whoop = _session("PEER_WHOOP_ACCESS_TOKEN")
    for table, (path, key_field) in WHOOP_COLLECTIONS.items():
        for record in whoop_records(whoop, base_url, path, start):
            counts[write_row(conn, table, "record_key", whoop_row(record, key_field))] += 1
    if not whoop_only:
        withings = _session("PEER_WITHINGS_ACCESS_TOKEN")
        lastupdate = int(since.timestamp()) if since else 0
        for group in withings_groups(withings, base_url, lastupdate):
            counts[write_row(conn, "withings_group", "grpid", withings_row(group))] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    """Run one sync; exit 0 when everything was written, 1 (with the reason) when not."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the peer's own SQLite file")
    parser.add_argument("--base-url", required=True, help="the API base URL (both providers)")
    window = parser.add_mutually_exclusive_group(required=True)
    window.add_argument("--since-days", type=float, help="fetch what started (or changed) in the last N days")
    window.add_argument("--full", action="store_true", help="fetch the whole history")
    parser.add_argument("--whoop-only", action="store_true", help="skip Withings")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    args = parser.parse_args(argv)
    since = None if args.full else datetime.now(timezone.utc) - timedelta(days=args.since_days)
    started = time.perf_counter()
    conn = open_db(args.db)
    try:
        counts = sync(conn, args.base_url.rstrip("/"), since, args.whoop_only)
    except (requests.RequestException, RuntimeError, sqlite3.Error, KeyError, ValueError) as exc:
        print(f"peer: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    if not args.quiet:
        print(
            f"peer: {counts['inserted']} inserted, {counts['updated']} updated in {time.perf_counter() - started:.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
