"""`export` against a hostile output folder: no symlink followed, nothing overwritten unasked, 0600/0700."""

from __future__ import annotations

import os
import stat

import pytest
from click.testing import CliRunner

from etl import cli
from storage.engine import make_engine
from tests.helpers.data import fill


@pytest.fixture(autouse=True)
def _cli_database(db_url, monkeypatch):
    """Every test here exports a filled database (tokens included) through the CLI."""
    fill(db_url)
    monkeypatch.setenv("DATABASE_URL", db_url)


def _export(*args):
    return CliRunner().invoke(cli, ["export", *args], catch_exceptions=False)


def test_a_leftover_partial_is_refused_then_replaced_by_a_private_file_with_force(tmp_path):
    leftover = tmp_path / "cycles.csv.partial"
    leftover.write_text("half a file")
    leftover.chmod(0o644)
    refused = _export("cycles", "--output", str(tmp_path))
    assert refused.exit_code == 2 and "cycles.csv.partial already exists" in refused.output
    assert "--force" in refused.output and leftover.read_text() == "half a file"
    assert not (tmp_path / "cycles.csv").exists()
    forced = _export("cycles", "--output", str(tmp_path), "--force")
    assert forced.exit_code == 0, forced.output
    assert stat.S_IMODE((tmp_path / "cycles.csv").stat().st_mode) == 0o600
    assert not os.path.lexists(leftover)


def test_symlinks_at_the_partial_or_the_file_are_never_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's own file")
    out = tmp_path / "out"
    out.mkdir()
    (out / "cycles.csv.partial").symlink_to(victim)
    (out / "recovery.csv").symlink_to(victim)
    for table in ("cycles", "recovery"):
        refused = _export(table, "--output", str(out))
        assert refused.exit_code == 2 and "already exists" in refused.output
        assert victim.read_text() == "the user's own file"
    for table in ("cycles", "recovery"):
        assert _export(table, "--output", str(out), "--force").exit_code == 0
    assert victim.read_text() == "the user's own file"
    for name in ("cycles.csv", "recovery.csv"):
        assert not (out / name).is_symlink() and (out / name).read_text().startswith("id,")
    assert not os.path.lexists(out / "cycles.csv.partial")


def test_existing_files_are_kept_without_force(tmp_path):
    assert _export("all", "--output", str(tmp_path)).exit_code == 0
    (tmp_path / "cycles.csv").write_text("my edits")
    again = _export("all", "--output", str(tmp_path))
    assert again.exit_code == 2 and "cycles.csv already exists" in again.output
    assert (tmp_path / "cycles.csv").read_text() == "my edits"
    assert _export("all", "--output", str(tmp_path), "--force").exit_code == 0
    assert (tmp_path / "cycles.csv").read_text().startswith("id,")


def test_table_names_come_from_the_code_never_from_the_database(db_url, tmp_path):
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql('CREATE TABLE "../../x" (id integer PRIMARY KEY)')
        conn.exec_driver_sql('INSERT INTO "../../x" (id) VALUES (1)')
    try:
        out = tmp_path / "a" / "b"
        result = _export("all", "--output", str(out))
        assert result.exit_code == 0, result.output
        assert "../../x" not in result.output and not (tmp_path / "x.csv").exists()
        assert sorted(p.name for p in tmp_path.rglob("*.csv")) == sorted(p.name for p in out.iterdir())
        named = _export("../../x", "--output", str(out))
        assert named.exit_code == 2 and "no table '../../x'" in named.output
        assert not (tmp_path / "x.csv").exists()
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql('DROP TABLE "../../x"')
        engine.dispose()


def test_the_folders_export_creates_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        result = _export("cycles", "--output", str(tmp_path / "new" / "deeper"))
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    for folder in (tmp_path / "new", tmp_path / "new" / "deeper"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
