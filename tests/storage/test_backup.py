"""`backup`: a consistent copy of the SQLite database while another connection writes, private and never overwriting."""

from __future__ import annotations

import sqlite3
import stat

import pytest
from click.testing import CliRunner

import etl


def _sqlite(db_url: str):
    if not db_url.startswith("sqlite"):
        pytest.skip("a SQLite file is what `backup` copies; PostgreSQL is refused (tested below)")
    return db_url.removeprefix("sqlite:///")


def test_a_backup_taken_mid_write_holds_every_committed_row_and_no_uncommitted_one(db_url, tmp_path, monkeypatch):
    path = _sqlite(db_url)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("INSERT INTO account (name, created_at) VALUES ('committed', '2026-01-01')")
    writer.execute("BEGIN IMMEDIATE")  # `watch` in the middle of a page: a write transaction held open
    writer.execute("INSERT INTO account (name, created_at) VALUES ('uncommitted', '2026-01-01')")
    monkeypatch.setenv("DATABASE_URL", db_url)
    target = tmp_path / "backups" / "whoop-backup.db"
    target.parent.mkdir()
    try:
        result = CliRunner().invoke(etl.cli, ["backup", str(target)])
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert result.exit_code == 0, result.output
    assert f"to {target}" in result.output and "OAuth tokens" in result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        names = {name for (name,) in copy.execute("SELECT name FROM account")}
    finally:
        copy.close()
    assert "committed" in names and "uncommitted" not in names

    again = CliRunner().invoke(etl.cli, ["backup", str(target)])
    assert again.exit_code == 2 and "exists already" in again.output  # never overwrites a backup


def test_postgresql_is_pointed_at_pg_dump(db_url, tmp_path, monkeypatch):
    if db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL only")
    monkeypatch.setenv("DATABASE_URL", db_url)
    result = CliRunner().invoke(etl.cli, ["backup", str(tmp_path / "x.db")])
    assert result.exit_code == 2 and "pg_dump" in result.output and not (tmp_path / "x.db").exists()
