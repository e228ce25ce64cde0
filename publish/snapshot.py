"""What one account's device shows, read from the read model: the latest values and `status --check`.

Values come from the metric catalog (`readers.metrics.latest`), exactly as `status`, the
dashboard, MCP and export read them; the problem sensor is `status --check --account NAME`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Connection, Engine

from configuration import clock
from readers import daily, health, metrics, read_model
from storage import account_policy, accounts
from sync import resources


@dataclass
class AccountSnapshot:
    """One account's device: its name, providers, the state of each metric it has data for, its problem."""

    account: str
    providers: list[str]
    values: dict[str, dict]  # metric name -> {"value": ..., "attributes": {...}}
    problem: dict  # {"state": "ON" | "OFF", "attributes": {...}}


# The declared resource whose table a metric is read from (flagged values are counted per resource).
RESOURCE_OF_TABLE = {table.name: r for r in resources.RESOURCES for table in r.tables}


def account_names(engine: Engine) -> list[str]:
    """Every account `status` reports, by name (a database with one account: that one)."""
    with engine.connect() as conn:
        return [scope.label() for scope in account_policy.to_read(conn)]


def account_snapshots(engine: Engine, settings, names=(), now: datetime | None = None) -> list[AccountSnapshot]:
    """A snapshot of each account named (none named: every account `status` reports), its values
    read as `status` reads them; UnknownAccount for a name that does not exist."""
    now = now or clock.utcnow()
    with engine.connect() as conn:
        every = {scope.label(): scope for scope in account_policy.to_read(conn)}
        chosen = [every.get(name) or account_policy.to_read(conn, (name,))[0] for name in names] or list(every.values())
        found = [(scope, _values(conn, scope.id, now), linked_providers(conn, scope.label())) for scope in chosen]
    return [
        AccountSnapshot(
            scope.label(),
            sorted(set(linked) | {v["attributes"]["source"] for v in values.values()}),
            values,
            problem(engine, settings, scope, now),
        )
        for scope, values, linked in found
    ]


def _values(conn: Connection, account: int | None, now: datetime) -> dict[str, dict]:
    flagged = {(f["source"], f["resource"]): f["count"] for f in read_model.flagged(conn, account)}
    values = {}
    for metric in metrics.METRICS:
        row = metrics.latest(conn, metric.name, now, account)
        if row is None:
            continue
        resource = RESOURCE_OF_TABLE[metrics.table_name(metric)]
        count = flagged.get(resource.key, 0)
        values[metric.name] = {
            "value": row["value"],
            "attributes": {
                "measured_at": row["at"],
                "local_day": _local_day(conn, metric.name, row["value"], account),
                "source": resource.source,
                "unit": metric.unit,
                # The latest value is never a flagged one (they are left out): this says whether
                # the resource holds values flagged implausible, as `status` does.
                "flagged": count > 0,
                "flagged_count": count,
            },
        }
    return values


def _local_day(conn: Connection, name: str, value, account: int | None) -> str | None:
    """The local day the `daily` view files the latest value under (None if it files another)."""
    row = daily.last_with(conn, name, account)
    if row is None:
        return None
    if not metrics.get(name).numeric:  # a word: the same one, or another day's
        return row["day"].isoformat() if row[name] == value else None
    if not math.isclose(float(row[name]), float(value), rel_tol=1e-9):
        return None
    return row["day"].isoformat()


def linked_providers(conn: Connection, name: str) -> list[str]:
    """The providers whose users the account `name` holds (its device's model names them)."""
    rows = accounts.list_accounts(conn, [name]) if read_model.has_table(conn, "account") else []
    return sorted({provider for row in rows for provider in row.users})


def problem(engine: Engine, settings, scope: account_policy.Scope, now: datetime) -> dict:
    """The problem sensor: ON exactly when `status --check --account NAME` exits non-zero, the problems as attributes."""
    with engine.connect() as conn:
        try:
            scope = account_policy.to_read(conn, (scope.label(),))[0]  # as `--account NAME` reads it
        except accounts.UnknownAccount:  # a database with no account row: read whole
            pass
    report = health.check(engine, settings, now, scope)
    return {
        "state": "ON" if report["exit_code"] else "OFF",
        "attributes": {
            "exit_code": report["exit_code"],
            "problems": [p["message"] for p in report["problems"]],
            "checked_at": report["checked_at"],
        },
    }
