"""--log-file opens a regular file of the user's alone: never a symlink's target."""

from __future__ import annotations

import os
import stat

from click.testing import CliRunner

import etl


def test_a_planted_symlink_is_refused_and_its_target_untouched(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("the victim's own text\n")
    os.chmod(victim, 0o644)
    link = tmp_path / "etl.log"
    link.symlink_to(victim)
    result = CliRunner().invoke(etl.cli, ["--log-file", str(link), "accounts", "--help"])
    assert result.exit_code == 2
    assert "symbolic link" in result.output
    assert victim.read_text() == "the victim's own text\n"
    assert stat.S_IMODE(os.stat(victim).st_mode) == 0o644


def test_a_regular_file_is_appended_to_and_tightened(tmp_path):
    log_file = tmp_path / "etl.log"
    log_file.write_text("an earlier line\n")
    os.chmod(log_file, 0o644)
    result = CliRunner().invoke(etl.cli, ["--log-file", str(log_file), "accounts", "--help"])
    assert result.exit_code == 0, result.output
    assert log_file.read_text().startswith("an earlier line\n")
    assert stat.S_IMODE(os.stat(log_file).st_mode) == 0o600
