"""A consistent copy of the SQLite database, taken while `watch` or a run may be writing to it.

Copying the file (or the file and its `-wal`) mid-write can give a copy that is torn or misses
committed pages; SQLite's online backup API copies a snapshot through a connection instead
(https://www.sqlite.org/backup.html), so the copy is a database as it stood at one commit.
The copy holds the OAuth tokens too, so it is created with mode 0600 and never overwrites a file.
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
