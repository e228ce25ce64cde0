"""The `restore` command: put a SQLite backup (`backup`'s copy) in place of the database, the one it
replaces kept aside, and bring its schema up to this release's."""

from __future__ import annotations

from pathlib import Path

import click

from configuration.exits import ConfigError, FailedError, LockedError


@click.command()
@click.argument("backup_file", metavar="FILE", type=click.Path(dir_okay=False))
def restore(backup_file):
    """Replace the SQLite database with the backup FILE (the current one is kept aside); refused while a sync runs."""
    from sqlalchemy.exc import SQLAlchemyError

    from configuration import clock
    from storage.backup import RestoreFailed, RestoreRefused, backup_revision, restore_sqlite, restore_target
    from storage.engine import SCHEMA_HEAD, ensure_schema, make_engine
    from storage.migrate import known_revisions
    from sync.lock import RunLocked, run_lock
    from sync.service import load_settings

    settings = load_settings()
    backup, known = Path(backup_file).expanduser().resolve(), known_revisions()
    try:
        restore_target(settings.database_url)  # PostgreSQL: its own tools, before anything is touched
        backup_revision(backup, known)  # a file that is no backup of ours: said before any lock is taken
    except RestoreRefused as exc:
        raise ConfigError(str(exc)) from None
    engine = make_engine(settings.database_url)
    aside = None
    try:
        # The run lock: no run, `watch` or quarantine review writes while the file is replaced.
        with run_lock(engine, 0.0):
            stamp = f"{clock.utcnow():%Y%m%dT%H%M%SZ}"
            database, aside, revision = restore_sqlite(settings.database_url, backup, stamp, known)
            migrated = ensure_schema(engine)
    except RunLocked:
        raise LockedError(
            "a sync or `watch` is using the database: stop it (and its timer or cron job) first, then restore"
        ) from None
    except RestoreRefused as exc:
        raise ConfigError(str(exc)) from None
    except RestoreFailed as exc:
        raise FailedError(f"the restore failed: {exc}") from None
    except SQLAlchemyError as exc:
        kept = f"; the database as it was is kept at {aside}" if aside else ""
        raise FailedError(
            f"the backup was restored but its schema could not be upgraded: {str(exc).splitlines()[0]}{kept}"
        ) from None
    finally:
        engine.dispose()
    schema = f"schema {revision or 'pre-fix'}" + (f", upgraded to {SCHEMA_HEAD}" if migrated else "")
    click.echo(f"restored {backup} into {database} ({schema})")
    if aside is not None:
        click.echo(f"the database as it was is kept at {aside} (mode 0600: it holds your OAuth tokens)")
