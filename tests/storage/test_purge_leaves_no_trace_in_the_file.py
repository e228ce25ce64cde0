"""`accounts remove --purge` on SQLite erases: the file and its WAL hold none of the person's values."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

import etl
from storage import accounts
from storage.engine import make_engine
from tests.helpers import factories as f
from tests.helpers.loaders import load

MARKER = "bobs-private-sport-q7x2"  # one of bob's values, unique in the file


def _file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def test_a_purge_leaves_none_of_the_persons_values_in_the_file(db_url, monkeypatch, session):
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite only: PostgreSQL's files are the server's, and its VACUUM the DBA's (README)")
    path = Path(make_engine(db_url).url.database)
    conn = session.connection()
    bob = accounts.ensure(conn, "bob")
    accounts.link(conn, bob, "whoop", f.USER_ID)
    accounts.link(conn, accounts.ensure(conn, "alice"), "whoop", f.USER_ID + 1)
    # Rewritten several times, as re-scored workouts are: each rewrite leaves an old copy behind.
    for n in range(4):
        load(session, "whoop", "workout", [f.workout(i, sport=f"{MARKER}-{n}") for i in range(40)], user_id=f.USER_ID)
        session.commit()
    session.close()
    assert MARKER.encode() in _file_bytes(path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    result = CliRunner().invoke(etl.cli, ["accounts", "remove", "bob", "--purge", "--yes"])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    assert MARKER.encode() not in _file_bytes(path)
    engine = make_engine(db_url)
    with engine.connect() as check:
        assert check.execute(text("SELECT count(*) FROM workout")).scalar() == 0
        assert accounts.find(check, "alice") is not None
    engine.dispose()
