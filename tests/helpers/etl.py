"""Run the real etl.py command line in-process and read what it did."""

from __future__ import annotations

import json

import click
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import etl
from models import SyncState
from storage.engine import make_engine
from sync.resources import data_tables


def run_etl(*args: str) -> tuple[int, dict | None, str]:
    """`python etl.py --json ARGS`: (exit code, parsed JSON summary or None, stderr)."""
    result = CliRunner().invoke(etl.cli, ["--json", *args], catch_exceptions=False)
    try:
        summary = json.loads(result.stdout) if result.stdout.strip() else None
    except json.JSONDecodeError:
        summary = None
    return result.exit_code, summary, result.stderr


def root_commands() -> dict[str, click.Command]:
    """Every command of etl.py's root group by name, each loaded as `--help` or its invocation would."""
    ctx = click.Context(etl.cli)
    return {name: etl.cli.get_command(ctx, name) for name in etl.cli.list_commands(ctx)}


def by_resource(summary: dict) -> dict[str, dict]:
    return {r["resource"]: r for r in summary["resources"]}


def table_counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with Session(engine) as session:
        counts = {t.name: session.scalar(select(func.count()).select_from(t)) for t in data_tables()}
    engine.dispose()
    return counts


def sync_states(url: str) -> dict[str, SyncState]:
    engine = make_engine(url)
    with Session(engine) as session:
        states = {s.resource: s for s in session.scalars(select(SyncState))}
        for state in states.values():
            session.expunge(state)
    engine.dispose()
    return states


def snapshot(url: str) -> dict[str, list]:
    """Every data table's rows by natural key (no surrogate ids, no write times)."""
    engine = make_engine(url)
    out = {}
    with engine.connect() as conn:
        for table in data_tables():
            # Write times are not data; nor are the times a value without history was seen, or
            # a device's values fetched.
            skip = ("id", "synced_at", "first_seen_at", "last_seen_at", "fetched_at")
            cols = [c for c in table.c if c.name not in skip]
            rows = conn.execute(select(*cols)).mappings().all()
            out[table.name] = sorted((json.dumps(dict(r), default=str, sort_keys=True) for r in rows))
    engine.dispose()
    return out
