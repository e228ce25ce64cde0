"""`export`: tables to CSV or JSON Lines, streamed in batches, times in ISO 8601 with offsets."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import IO

from sqlalchemy import MetaData, Table, inspect, select
from sqlalchemy.engine import Connection, Engine

# OAuth tokens never leave the database; Alembic's bookkeeping is not data.
NEVER_EXPORTED = frozenset({"oauth_token", "alembic_version"})
QUARANTINE_TABLE = "quarantine"
# `--since` filters on the first of these a table has: when the record happened, else when it was written
# (the `daily` view: its local day).
SINCE_COLUMNS = ("start", "measured_at", "created_at", "synced_at", "updated_at", "day")
DAILY_VIEW = "daily"  # a view `export` writes: one row per local day (migration 0007)
DAILY_VIEWS = (DAILY_VIEW, "daily_detail")  # and `daily` with more columns (migration 0018)
BATCH_ROWS = 1000


class ExportError(ValueError):
    """A table that cannot be exported (unknown, or never exported); the message says why."""


@dataclass(frozen=True)
class Exported:
    """One table written: where, and how many rows."""

    table: str
    path: str
    rows: int


def declared_tables() -> tuple[str, ...]:
    """The tables the code declares for users: every resource's tables, sync state, the quarantine."""
    from models import Quarantine, SyncState
    from sync.resources import RESOURCES

    names = [t.name for r in RESOURCES for t in r.tables]
    return tuple(dict.fromkeys([*names, SyncState.__tablename__, Quarantine.__tablename__]))


def exportable_tables(engine: Engine, include_quarantined: bool = False) -> list[str]:
    """Every table `export all` writes: data and sync state, never tokens, quarantine only when asked."""
    # Names come from the code, never from the database: a table someone added (or named
    # `../x`) is not exported, and a file name is never built from the catalog.
    present = set(inspect(engine).get_table_names())
    names = sorted(n for n in declared_tables() if n in present and n not in NEVER_EXPORTED)
    return [n for n in names if include_quarantined or n != QUARANTINE_TABLE]


def resolve_tables(engine: Engine, name: str, include_quarantined: bool = False) -> list[str]:
    """`all` or one table name -> the tables to export; ExportError names the valid ones."""
    if name in NEVER_EXPORTED:
        raise ExportError(f"{name} is never exported (it holds OAuth tokens or migration bookkeeping)")
    if name == "all":
        return exportable_tables(engine, include_quarantined)
    if name in DAILY_VIEWS and name in inspect(engine).get_view_names():
        return [name]
    known = exportable_tables(engine, include_quarantined=True)
    if name not in known:
        raise ExportError(f"no table {name!r}; choose all, {', '.join(DAILY_VIEWS)} or one of: {', '.join(known)}")
    return [name]


def iso(value):
    """A JSON-ready value: times in ISO 8601 with their offset (stored naive times are UTC)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


def json_default(value):
    """For `json.dumps(default=...)` in every `--json` output: `iso` where it applies, else the text."""
    converted = iso(value)
    return str(value) if converted is value else converted


def _csv_cell(value):
    value = iso(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return value


def iter_rows(
    conn: Connection,
    name: str,
    *,
    since: datetime | None = None,
    include_deleted: bool = False,
    account: int | None = None,
) -> tuple[list[str], Iterator]:
    """(column names, rows) of one table (only the account's rows when one is given), read through
    a server-side cursor in batches."""
    from readers import daily, ownership  # the catalog loads only when an export runs

    if name in DAILY_VIEWS:
        table = daily.view_of(conn, account, name)
        query = select(table)
    else:
        table = Table(name, MetaData(), autoload_with=conn)
        query = select(table).where(*ownership.owned(table, account))
    if "deleted_at" in table.c and not include_deleted:
        query = query.where(table.c.deleted_at.is_(None))
    if since is not None:
        column = next((table.c[c] for c in SINCE_COLUMNS if c in table.c), None)
        if column is not None:
            query = query.where(column >= _since_value(conn, column.name, since))
    query = query.order_by(*(table.primary_key.columns or table.c) if name not in DAILY_VIEWS else table.c)
    # yield_per: a server-side cursor on PostgreSQL, fetchmany on SQLite: memory stays one batch.
    result = conn.execution_options(yield_per=BATCH_ROWS).execute(query)
    return list(result.keys()), iter(result)


def _since_value(conn: Connection, column: str, since: datetime):
    if column == "day":  # a local calendar day: SQLite's view hands it back as ISO text
        return since.date().isoformat() if conn.dialect.name == "sqlite" else since.date()
    if conn.dialect.name == "sqlite":  # stored as naive UTC text
        return since.astimezone(timezone.utc).replace(tzinfo=None)
    return since


def write_rows(columns: list[str], rows: Iterable, fmt: str, out: IO[str]) -> int:
    """Write rows as CSV (with a header) or JSON Lines; returns the row count."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(v) for v in row])
            count += 1
        return count
    for row in rows:
        out.write(json.dumps({c: iso(v) for c, v in zip(columns, row, strict=False)}, ensure_ascii=False, default=str))
        out.write("\n")
        count += 1
    return count


def _private_file(path: Path) -> IO[str]:
    # Health data: the file is the user's alone from its first byte, like the database. A new
    # file only: a planted file or symlink at this name is never opened, let alone followed.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8", newline="")


def _private_folder(folder: Path) -> None:
    """Create `folder` and any missing parents as 0700, whatever the umask; existing ones are left as they are."""
    for path in reversed([p for p in (folder, *folder.parents) if not os.path.lexists(p)]):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:  # created meanwhile by someone else: not ours to change
            continue
        os.chmod(path, 0o700)  # mkdir's mode is masked by the umask


def _targets(tables: list[str], fmt: str, folder: Path, force: bool) -> dict[str, Path]:
    """Each table's file, checked before anything is written: inside `folder`, and not there unless `force`."""
    targets = {}
    for name in tables:
        if Path(name).name != name or name in (".", ".."):
            raise ExportError(f"{name!r} cannot be a file name inside --output")
        path = folder / f"{name}.{fmt}"
        for existing in (path, _partial(path)):
            if os.path.lexists(existing) and not force:
                raise ExportError(
                    f"{existing} already exists: pass --force to overwrite it, or choose another --output folder"
                )
        targets[name] = path
    return targets


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def _write_file(path: Path, columns: list[str], rows, fmt: str) -> int:
    """Write through `<file>.partial`, renamed into place: a reader never sees half a file."""
    partial = _partial(path)
    if os.path.lexists(partial):  # left by an interrupted export; --force was given
        os.unlink(partial)  # the name only: a symlink's target is never touched
    try:
        with _private_file(partial) as out:
            count = write_rows(columns, rows, fmt, out)
        os.replace(partial, path)
    except BaseException:
        if os.path.lexists(partial):
            os.unlink(partial)
        raise
    return count


def export_tables(
    engine: Engine,
    tables: list[str],
    fmt: str,
    output: str,
    *,
    since: datetime | None = None,
    include_deleted: bool = False,
    force: bool = False,
    account: int | None = None,
) -> list[Exported]:
    """Write each table to `<output>/<table>.<fmt>` (or stdout for `-` and one table)."""
    if output == "-" and len(tables) != 1:
        raise ExportError("--output - (stdout) takes one table; give a folder for several")
    targets = {} if output == "-" else _targets(tables, fmt, Path(output), force)
    if targets:
        _private_folder(Path(output))
    done = []
    with engine.connect() as conn:
        for name in tables:
            columns, rows = iter_rows(conn, name, since=since, include_deleted=include_deleted, account=account)
            if output == "-":
                done.append(Exported(name, "-", write_rows(columns, rows, fmt, sys.stdout)))
                continue
            count = _write_file(targets[name], columns, rows, fmt)
            done.append(Exported(name, str(targets[name]), count))
    return done
