"""Changes a command makes to synced data, each under the locks a run takes so it never meets a run
writing the same rows: removing an account (its data kept, or purged), retrying quarantined records."""

from __future__ import annotations

from sqlalchemy.engine import Engine

import models
from storage import accounts
from sync.lock import account_lock, process_lock, run_lock
from sync.resources import tables_by_source


def remove_account(engine: Engine, account_id: int, name: str, *, purge: bool) -> tuple[dict[str, int], bool]:
    """Delete the account's tokens and provider links and, with `purge`, its rows in every data
    table, then erase them from a SQLite file (`accounts.erase_freed`): (rows deleted per table,
    whether the file holds none of them any more). Not while a run syncs it (its next page would
    file rows under a removed account): RunLocked."""
    with process_lock(engine, 0), account_lock(engine, account_id, 0, name=name):
        with engine.begin() as conn:
            deleted = accounts.purge(conn, account_id, purged_tables()) if purge else {}
            accounts.remove(conn, account_id)
        erased = accounts.erase_freed(engine) if purge else True
    return deleted, erased


def purged_tables() -> dict[str, list]:
    """Per provider, every table a purge deletes the account's rows from: the declared resources'
    and the in/out-of-bed events, which only push brings (sync/events.py)."""
    tables = tables_by_source()
    tables.setdefault("withings", []).append(models.withings_bed_event)
    return tables


def retry_quarantined(session, choose, where: tuple = ()):
    """Under the run lock (not while a run writes the same rows), retry each (resource declaration,
    ids or None) that `choose(session)` names with this release's mappers, only the items meeting
    `where` (e.g. one account's); yields (resource, counts) as each commits. Raises RunLocked."""
    from db_loader import retry_quarantine

    with run_lock(session.get_bind()):
        for resource, ids in choose(session):
            counts = retry_quarantine(session, resource, ids, where=where)
            session.commit()
            yield resource, counts
