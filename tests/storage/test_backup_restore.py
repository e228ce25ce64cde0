"""`restore`: a SQLite backup put in place of the database, the old one kept aside, the schema
brought to head; a file that is no backup of ours, a running sync, or PostgreSQL refused clearly."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

import etl
from storage.engine import SCHEMA_HEAD, make_engine
from storage.migrate import upgrade
from sync.lock import run_lock


def _sqlite(db_url: str) -> Path:
    if not db_url.startswith("sqlite"):
        pytest.skip("a SQLite file is what `restore` replaces; PostgreSQL is refused (tested below)")
    return Path(db_url.removeprefix("sqlite:///"))


def _accounts(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {name for (name,) in conn.execute("SELECT name FROM account")} - {"default"}
    finally:
        conn.close()


def _add_account(path: Path, name: str) -> None:
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute("INSERT INTO account (name, created_at) VALUES (?, '2026-01-01')", (name,))
    finally:
        conn.close()


def _revision(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    finally:
        conn.close()


def _restore(target) -> tuple[int, str]:
    result = CliRunner().invoke(etl.cli, ["restore", str(target)])
    return result.exit_code, result.output


def _asides(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.before-restore-*"))


def test_a_backup_is_restored_and_the_database_it_replaces_is_kept_aside(db_url, tmp_path, monkeypatch):
    path = _sqlite(db_url)
    monkeypatch.setenv("DATABASE_URL", db_url)
    _add_account(path, "before")
    copy = tmp_path / "whoop-backup.db"
    assert CliRunner().invoke(etl.cli, ["backup", str(copy)]).exit_code == 0
    _add_account(path, "after")  # written after the backup: gone once it is restored, kept aside

    code, output = _restore(copy)
    assert code == 0, output
    assert _accounts(path) == {"before"}
    (aside,) = _asides(path)
    assert _accounts(aside) == {"before", "after"} and stat.S_IMODE(aside.stat().st_mode) == 0o600
    assert f"restored {copy} into {path} (schema {SCHEMA_HEAD})" in output and str(aside) in output
    assert _accounts(copy) == {"before"}  # the backup itself is left as it was


def test_an_older_backup_is_upgraded_to_this_releases_schema(db_url, tmp_path, monkeypatch):
    path = _sqlite(db_url)
    monkeypatch.setenv("DATABASE_URL", db_url)
    old = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{old}")
    try:
        upgrade(engine, "0008_accounts")
    finally:
        engine.dispose()
    code, output = _restore(old)
    assert code == 0, output
    assert f"(schema 0008_accounts, upgraded to {SCHEMA_HEAD})" in output
    assert _revision(path) == SCHEMA_HEAD and _revision(old) == "0008_accounts"


def test_a_restore_into_a_new_install_creates_a_private_database(tmp_path, monkeypatch, sqlite_template):
    path = tmp_path / "data" / "whoop.db"
    path.parent.mkdir()  # the data folder exists; the database does not yet
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    code, output = _restore(sqlite_template)
    assert code == 0, output
    assert _revision(path) == SCHEMA_HEAD and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not _asides(path) and "kept at" not in output


def _not_sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "notes.db"
    path.write_text("not a database\n" * 100)
    return path


def _other_schema(tmp_path: Path) -> Path:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    conn.close()
    return path


def _newer_schema(tmp_path: Path, template: Path) -> Path:
    path = tmp_path / "newer.db"
    path.write_bytes(template.read_bytes())
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    conn.close()
    return path


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda tmp, template: tmp / "missing.db", "there is no file"),
        (lambda tmp, template: _not_sqlite(tmp), "is not a SQLite database"),
        (lambda tmp, template: _other_schema(tmp), "not one of whoop-etl"),
        (lambda tmp, template: _newer_schema(tmp, template), "made by a newer release; upgrade whoop-etl first"),
    ],
)
def test_a_file_that_is_no_backup_of_ours_is_refused_and_nothing_changes(
    db_url, tmp_path, monkeypatch, sqlite_template, make, says
):
    path = _sqlite(db_url)
    monkeypatch.setenv("DATABASE_URL", db_url)
    _add_account(path, "mine")
    code, output = _restore(make(tmp_path, Path(sqlite_template)))
    assert code == 2 and says in output and "Traceback" not in output
    assert _accounts(path) == {"mine"} and not _asides(path)


def test_a_restore_is_refused_while_a_sync_or_watch_holds_the_lock(db_url, tmp_path, monkeypatch):
    path = _sqlite(db_url)
    monkeypatch.setenv("DATABASE_URL", db_url)
    copy = tmp_path / "whoop-backup.db"
    assert CliRunner().invoke(etl.cli, ["backup", str(copy)]).exit_code == 0
    _add_account(path, "live")
    engine = make_engine(db_url)
    try:
        with run_lock(engine):
            code, output = _restore(copy)
    finally:
        engine.dispose()
    assert code == 75 and "stop it" in output and "then restore" in output
    assert _accounts(path) == {"live"} and not _asides(path)


def test_postgresql_is_pointed_at_pg_restore_and_psql(db_url, tmp_path, monkeypatch, sqlite_template):
    if db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL only")
    monkeypatch.setenv("DATABASE_URL", db_url)
    code, output = _restore(sqlite_template)
    assert code == 2 and "pg_restore" in output and "psql" in output and "README" in output
