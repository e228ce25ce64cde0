"""docs/deploy: the systemd units verify, the launchd plist parses, the cron script alerts on a problem."""

from __future__ import annotations

import os
import plistlib
import shutil
import stat
import subprocess
import sys
from datetime import timedelta

import pytest

from sync import resources
from tests.conftest import PROJECT_DIR

DEPLOY = PROJECT_DIR / "docs" / "deploy"
SANDBOX_LAG = {
    f"STALE_AFTER_{r.source.upper()}_{r.name.upper()}": "3d"
    for r in resources.RESOURCES
    if r.stale_after < timedelta(days=3)
}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_units_verify(tmp_path):
    for name in ("whoop-etl.service", "whoop-etl.timer", "whoop-etl-watch.service", "whoop-etl-serve.service"):
        text = (DEPLOY / name).read_text().replace("%h/whoop-data-platform", str(PROJECT_DIR))
        (tmp_path / name).write_text(text)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    result = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "whoop-etl.service",
            "whoop-etl.timer",
            "whoop-etl-watch.service",
            "whoop-etl-serve.service",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "whoop-etl" not in result.stderr  # no warning about either unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_installed_commands_systemd_units_verify(tmp_path):
    command = tmp_path / "bin" / "whoop-etl"  # where pipx puts it: ~/.local/bin/whoop-etl
    command.parent.mkdir()
    command.write_text("#!/bin/sh\n")
    command.chmod(0o755)
    names = ("whoop-etl.service", "whoop-etl-watch.service")
    for name in names:
        text = (DEPLOY / "installed" / name).read_text()
        assert "%h/.local/bin/whoop-etl " in text and "etl.py" not in text and "WorkingDirectory" not in text
        (tmp_path / name).write_text(text.replace("%h/.local/bin/whoop-etl", str(command)))
    (tmp_path / "whoop-etl.timer").write_text((DEPLOY / "whoop-etl.timer").read_text())
    result = subprocess.run(
        ["systemd-analyze", "verify", *names, "whoop-etl.timer"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "whoop-etl" not in result.stderr


def test_every_schedule_is_the_readmes_daily_0615():
    readme_cron = next(
        line for line in (PROJECT_DIR / "README.md").read_text().splitlines() if "whoop-etl --quiet" in line
    )
    assert readme_cron.startswith("15 6 * * *")
    assert "OnCalendar=*-*-* 06:15:00" in (DEPLOY / "whoop-etl.timer").read_text()
    for plist_path in (
        DEPLOY / "com.whoop-data-platform.etl.plist",
        DEPLOY / "installed" / "com.whoop-data-platform.etl.plist",
    ):
        plist = plistlib.loads(plist_path.read_bytes())
        assert plist["StartCalendarInterval"] == {"Hour": 6, "Minute": 15} and "StartInterval" not in plist


def test_launchd_plists_parse_and_run_the_script():
    plist = plistlib.loads((DEPLOY / "com.whoop-data-platform.etl.plist").read_bytes())
    assert plist["Label"] == "com.whoop-data-platform.etl"
    assert plist["ProgramArguments"][-1].endswith("docs/deploy/sync-and-check.sh")
    installed = plistlib.loads((DEPLOY / "installed" / "com.whoop-data-platform.etl.plist").read_bytes())
    assert installed["ProgramArguments"][-1].endswith("/.local/bin/sync-and-check.sh")
    assert installed["EnvironmentVariables"]["WHOOP_ETL"].endswith("/.local/bin/whoop-etl")


def _fake(bin_dir, name: str, log) -> None:
    script = bin_dir / name
    script.write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\ncat >> {log}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.mark.parametrize("stale", [False, True])
def test_cron_script_pings_and_mails_only_on_a_problem(etl_env, db_url, tmp_path, stale):
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    for name in ("curl", "mail"):
        _fake(bin_dir, name, log)
    env = {
        **os.environ,
        **SANDBOX_LAG,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHON": sys.executable,
        "HEALTHCHECK_URL": "https://hc.example/uuid",
        "ALERT_EMAIL": "me@example.com",
        "STALE_AFTER_WHOOP_WORKOUT": "1h" if stale else "7d",
    }
    result = subprocess.run(
        ["sh", str(DEPLOY / "sync-and-check.sh")], env=env, capture_output=True, text=True, timeout=120
    )
    calls = log.read_text()
    assert result.returncode == (1 if stale else 0), result.stderr
    assert "curl -fsS -m 10 --retry 3 --data-raw" in calls and f"https://hc.example/uuid/{result.returncode}" in calls
    assert ("mail -s whoop-etl needs attention (exit 1) me@example.com" in calls) == stale
    if stale:
        assert "WHOOP workouts has no record newer than 1 hour" in calls


def test_the_cron_script_copied_out_of_the_checkout_runs_the_installed_command(tmp_path):
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    for name in ("whoop-etl", "curl", "mail"):
        _fake(bin_dir, name, log)
    shutil.copy(DEPLOY / "sync-and-check.sh", bin_dir)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HEALTHCHECK_URL": "https://hc.example/uuid"}
    result = subprocess.run(
        ["sh", str(bin_dir / "sync-and-check.sh")],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    calls = log.read_text()
    assert result.returncode == 0, result.stderr
    assert "whoop-etl --quiet --wait 300" in calls and "whoop-etl status --check" in calls
    assert "https://hc.example/uuid/0" in calls
