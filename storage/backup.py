"""A consistent copy of the SQLite database, taken while `watch` or a run may be writing to it.

Copying the file (or the file and its `-wal`) mid-write can give a copy that is torn or misses
committed pages; SQLite's online backup API copies a snapshot through a connection instead
(https://www.sqlite.org/backup.html), so the copy is a database as it stood at one commit.
The copy holds the OAuth tokens too, so it is created with mode 0600 and never overwrites a file.
A restore goes the same way back, into the database's own file, after a copy of that file is kept.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupRefused(ValueError):
    """A backup this command cannot take (PostgreSQL, a missing database, an existing target)."""


def backup_sqlite(database_url: str, target: Path) -> tuple[Path, int]:
    """Copy the SQLite database of `database_url` to `target` (a new file, mode 0600): (source, bytes)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupRefused(
            "backup copies a SQLite database; for PostgreSQL use its own tools, e.g. "
            "`pg_dump --format=custom --file whoop.dump <database>` (restore with pg_restore)"
        )
    source = Path(url.database or "")
    if not source.is_file():
        raise BackupRefused(f"there is no database at {source} to back up")
    if not target.parent.is_dir():
        raise BackupRefused(f"the folder {target.parent} does not exist; create it first")
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise BackupRefused(f"{target} exists already; name a new file (a backup never overwrites one)") from None
    try:
        _copy(source, target)
    except sqlite3.Error:
        target.unlink(missing_ok=True)  # never leave a half copy that looks like a backup
        raise
    return source, target.stat().st_size


def _copy(source: Path, target: Path) -> None:
    reader = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        writer = sqlite3.connect(target)
        try:
            reader.backup(writer)
        finally:
            writer.close()
    finally:
        reader.close()


class RestoreRefused(ValueError):
    """A file `restore` will not put in place of the database (not SQLite, not this schema, PostgreSQL)."""


class RestoreFailed(RuntimeError):
    """The copy failed half-way; the message says where the database as it was is kept."""


PG_RESTORE_ADVICE = (
    "restore puts a SQLite backup in place; for PostgreSQL use its own tools: "
    "`pg_restore --clean --if-exists --dbname <database> whoop.dump` for a `pg_dump --format=custom` "
    "dump, `psql --dbname <database> --file whoop.sql` for a plain one (README, Backup and restore)"
)


def backup_revision(backup: Path, known: set[str]) -> str | None:
    """The schema revision of the SQLite file `backup` (None: a pre-fix database without one);
    RestoreRefused when it is not a SQLite database of this project's schema, or of a newer release."""
    if not backup.is_file():
        raise RestoreRefused(f"there is no file {backup} to restore")
    try:
        reader = sqlite3.connect(f"{backup.as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise RestoreRefused(f"{backup} cannot be opened as a SQLite database ({exc})") from None
    try:
        tables = {name for (name,) in reader.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        revision = (
            reader.execute("SELECT version_num FROM alembic_version").fetchone()
            if "alembic_version" in tables
            else None
        )
    except sqlite3.DatabaseError as exc:  # "file is not a database"
        raise RestoreRefused(f"{backup} is not a SQLite database ({exc})") from None
    finally:
        reader.close()
    if revision is None:
        if {"cycles", "recovery"} <= tables:  # the pre-fix release kept no version; the migrations know it
            return None
        raise RestoreRefused(f"{backup} is a SQLite database, but not one of whoop-etl (no schema version in it)")
    if revision[0] not in known:
        raise RestoreRefused(
            f"{backup} is at schema {revision[0]}, which this release does not know: it was made by a newer "
            "release; upgrade whoop-etl first (README, Upgrade)"
        )
    return revision[0]


def restore_sqlite(
    database_url: str, backup: Path, stamp: str, known: set[str]
) -> tuple[Path, Path | None, str | None]:
    """Put the SQLite backup `backup` in place of the database of `database_url`, through SQLite's
    backup API: (the database, where its previous content was kept aside or None when there was
    none, the backup's schema revision). The caller holds the run lock, so no run writes meanwhile;
    the schema is not migrated here."""
    database = restore_target(database_url)
    revision = backup_revision(backup, known)
    if backup.resolve() == database.resolve():
        raise RestoreRefused(f"{backup} is the database itself; name a backup file")
    aside = None
    if database.is_file() and database.stat().st_size > 0:  # an empty file (just created) holds nothing to keep
        # The database as it stands, kept whole (its committed WAL pages too) before it is replaced.
        aside = database.with_name(f"{database.name}.before-restore-{stamp}")
        try:
            backup_sqlite(database_url, aside)
        except BackupRefused as exc:  # a restore in the same second as another: its copy is not overwritten
            raise RestoreRefused(f"cannot keep the database aside: {exc}") from None
        except sqlite3.Error as exc:
            raise RestoreFailed(f"could not keep the database aside at {aside} ({exc}); nothing was changed") from None
    elif not database.exists():
        database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # it holds OAuth tokens
    try:
        _copy(backup, database)
    except sqlite3.Error as exc:
        kept = f"; the database as it was is kept at {aside}" if aside else ""
        raise RestoreFailed(f"copying {backup} into {database} failed ({exc}){kept}") from None
    return database, aside, revision


def restore_target(database_url: str) -> Path:
    """The SQLite file a restore replaces; RestoreRefused, with the tools to use, for PostgreSQL."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise RestoreRefused(PG_RESTORE_ADVICE)
    return Path(url.database or "")
