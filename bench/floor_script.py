"""The floor of a routine run on this stack: what `etl.py --since 7d` cannot avoid doing.

    PEER_WHOOP_ACCESS_TOKEN=... PEER_WITHINGS_ACCESS_TOKEN=... \\
        python bench/floor_script.py --db floor.db --base-url http://127.0.0.1:PORT --requests requests.json \\
        [--pause-collector]

It starts the interpreter, imports what the design card mandates (SQLAlchemy for the database,
requests for HTTP), sends every request listed in REQUESTS (a JSON list of {provider, method,
path, query, form}: the requests one routine run of the project sent, recorded by the sandbox)
all at once, one thread each, and writes every record the answers hold, as raw JSON, into one
table in one transaction. Nothing else: no schema check, no lock, no token read, no sync state,
no mapping, no upsert, no reconciliation.

Written plainly, the garbage collector runs as it does in any script: it walks the imports'
objects many times while they load and once more at the exit, and a run can avoid that work
(etl.py does). `--pause-collector` avoids it too: the collector is paused before the imports and
what they made is frozen before the exit, which leaves only what no run can skip.
"""

from __future__ import annotations

import gc
import sys

if "--pause-collector" in sys.argv:  # read before argparse: the imports below are what it is about
    gc.disable()

import argparse
import json
import os
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, create_engine, insert

TOKEN_VARIABLES = {"whoop": "PEER_WHOOP_ACCESS_TOKEN", "withings": "PEER_WITHINGS_ACCESS_TOKEN"}
TIMEOUT_SECONDS = 30

METADATA = MetaData()
RECORDS = Table(
    "floor_record",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("path", String(64), nullable=False),
    Column("raw", Text, nullable=False),
)


def records_of(body: dict) -> list:
    """The records one answer holds: WHOOP's page, the lists inside Withings' body, or the answer itself."""
    if isinstance(body.get("records"), list):
        return body["records"]
    inner = body.get("body")
    if isinstance(inner, dict):
        return [record for value in inner.values() if isinstance(value, list) for record in value]
    return [body]


def send(base_url: str, tokens: dict, request: dict) -> list[dict]:
    """One request as recorded; its records as rows. An HTTP error or a Withings status != 0 stops the run."""
    response = requests.request(
        request["method"],
        base_url + request["path"],
        params=request.get("query") or None,
        data=request.get("form") or None,
        headers={"Authorization": f"Bearer {tokens[request['provider']]}"},
        timeout=TIMEOUT_SECONDS,
    )
    response.raise_for_status()
    body = response.json()
    if request["provider"] == "withings" and body.get("status") != 0:
        raise RuntimeError(f"Withings {request['path']} answered status {body.get('status')}")
    return [{"path": request["path"], "raw": json.dumps(record)} for record in records_of(body)]


def main(argv: list[str] | None = None) -> int:
    """Send the recorded requests at once, commit their records in one transaction; exit 0, or 1 with the reason."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the floor's own SQLite file")
    parser.add_argument("--base-url", required=True, help="the API base URL (both providers)")
    parser.add_argument("--requests", required=True, help="the JSON list of requests to send")
    parser.add_argument("--pause-collector", action="store_true", help="keep the garbage collector out of the run")
    args = parser.parse_args(argv)
    with open(args.requests, encoding="utf-8") as listed:
        wanted = json.load(listed)
    tokens = {provider: os.environ.get(variable, "") for provider, variable in TOKEN_VARIABLES.items()}
    base_url = args.base_url.rstrip("/")
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(wanted))) as pool:
            answers = list(pool.map(lambda request: send(base_url, tokens, request), wanted))
    except (requests.RequestException, RuntimeError, ValueError) as exc:
        print(f"floor: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    rows = [row for answer in answers for row in answer]
    engine = create_engine(f"sqlite:///{args.db}")
    with engine.begin() as conn:
        METADATA.create_all(conn)
        if rows:
            conn.execute(insert(RECORDS), rows)
    engine.dispose()
    if args.pause_collector:
        gc.freeze()  # the exit then has no tracked object to walk
    return 0


if __name__ == "__main__":
    sys.exit(main())
