"""Installed as a user would: a fresh virtualenv outside the checkout, `pip install <checkout>`, then
`whoop-etl` syncs the sandbox, reports status, exports and serves MCP from another directory."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR
from tests.packaging.test_packaging import requirement_lines

# Only what a user's checkout would hold: no venv, no git, no local data or build leftovers.
_NOT_SOURCE = shutil.ignore_patterns(
    ".venv",
    ".git",
    "data",
    "__pycache__",
    "build",
    "*.egg-info",
    "dist",
    ".pytest_cache",
    ".hypothesis",
    "tests",
    "bench",
    "logs",
    "*.db*",
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtualenv with `pip install <copy of the checkout>`; returns its bin folder."""
    root = tmp_path_factory.mktemp("install")
    source = root / "checkout"
    shutil.copytree(PROJECT_DIR, source, ignore=_NOT_SOURCE, symlinks=True)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{source}[mcp]"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if pip.returncode != 0 and "Could not find a version" in pip.stderr + pip.stdout:
        pytest.skip(f"no package index reachable: {pip.stderr.strip().splitlines()[-1]}")
    assert pip.returncode == 0, pip.stderr
    shutil.rmtree(source)  # the installed command must not need the checkout
    return venv / "bin"


@pytest.fixture
def user_env(installed, etl_env, db_url, tmp_path):
    """The sandbox's settings, a home of its own, no PYTHONPATH: a user's shell, in `tmp_path`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(
        etl_env.environment(),
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "share"),
        PATH=f"{installed}{os.pathsep}{env.get('PATH', '')}",
    )
    # SQLite: a new file, so the installed copy runs its own migrations; PostgreSQL: the test database.
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'fresh.db'}" if db_url.startswith("sqlite") else db_url
    return env


def whoop_etl(env, *args, cwd, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(env["PATH"].split(os.pathsep)[0]) / "whoop-etl"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_installed_command_syncs_reports_exports_and_serves_mcp(installed, user_env, tmp_path):
    import click

    import etl

    work = tmp_path / "elsewhere"
    work.mkdir()
    help_ = whoop_etl(user_env, "--help", cwd=work)
    assert help_.returncode == 0
    for name in etl.cli.list_commands(click.Context(etl.cli)):
        assert f"  {name} " in help_.stdout, name
    assert whoop_etl(user_env, "--version", cwd=work).stdout.split()[-1] == _version()

    sync = whoop_etl(user_env, "--json", cwd=work)
    assert sync.returncode == 0, sync.stderr
    status = whoop_etl(user_env, "status", "--json", cwd=work)
    assert status.returncode == 0, status.stderr
    assert {r["resource"] for r in json.loads(status.stdout)["resources"]} >= {"cycles", "measures"}
    check = whoop_etl(user_env, "status", "--check", "--json", cwd=work)
    report = json.loads(check.stdout)
    assert check.returncode == report["exit_code"] in (0, 1), check.stderr  # 1: the sandbox's day-old clock
    assert {r["resource"] for r in report["resources"]} >= {"cycles", "measures"}

    export = whoop_etl(user_env, "export", "all", "--format", "csv", cwd=work)
    assert export.returncode == 0, export.stderr
    assert not (work / "oauth_token.csv").exists()
    assert len(list(csv.DictReader((work / "cycles.csv").open()))) >= 59

    tools, latest = asyncio.run(_mcp_session(installed, user_env, work))
    assert {"latest_measurements", "daily_series", "recent_workouts", "sync_freshness", "query"} <= tools
    assert latest["metrics"]["weight"]["value"] > 0


def test_installed_metadata_matches_requirements_and_ships_the_assets(installed):
    probe = (
        "import importlib.metadata as m, json, dashboard.assets as a; from storage import migrate;"
        "from alembic.script import ScriptDirectory as S;"
        "print(json.dumps({'requires': m.requires('whoop-etl'), 'version': m.version('whoop-etl'),"
        "'head': S.from_config(migrate.alembic_config()).get_current_head(),"
        "'static': sorted(p.name for p in a.STATIC_DIR.iterdir()),"
        "'template': (a.TEMPLATE_DIR / 'page.html').is_file(), 'chart': a.chart_js() is not None,"
        "'etl': __import__('etl').__file__}))"
    )
    out = subprocess.run(
        [str(installed / "python"), "-c", probe],
        capture_output=True,
        text=True,
        cwd="/",
        env={"PATH": os.environ.get("PATH", "")},
        check=True,
    )
    found = json.loads(out.stdout)
    extra = '; extra == "mcp"'
    assert sorted(r for r in found["requires"] if extra not in r) == sorted(requirement_lines("requirements.txt"))
    assert sorted(r.replace(extra, "") for r in found["requires"] if extra in r) == sorted(
        requirement_lines("requirements-mcp.txt")
    )
    assert found["version"] == _version()
    from storage.engine import SCHEMA_HEAD

    assert found["head"] == SCHEMA_HEAD
    assert {"dashboard.css", "dashboard.js", "favicon.svg"} <= set(found["static"])
    assert found["template"] and found["chart"]
    assert found["etl"].startswith(str(installed.parent))


def _version() -> str:
    from configuration.version import __version__

    return __version__


async def _mcp_session(installed: Path, env: dict, cwd: Path):
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=str(installed / "whoop-etl"), args=["mcp"], env=env, cwd=str(cwd))
    async with Client(params) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("latest_measurements", {})
        assert not result.is_error, result.content
        latest = result.structured_content or json.loads(result.content[0].text)
        return tools, latest


def test_installed_messages_name_whoop_etl_and_the_real_env(installed, user_env, tmp_path):
    env = {**user_env, "WHOOP_CLIENT_ID": ""}  # as if it were missing from the user's .env
    result = whoop_etl(env, "connect", "whoop", cwd=tmp_path)
    expected = tmp_path / "config" / "whoop-etl" / ".env"
    assert result.returncode == 2 and f"in {expected} first" in result.stderr
    assert ".env.example" not in result.stderr and "python etl.py" not in result.stderr


def test_the_installed_menu_syncs_and_exports_into_the_data_folder(installed, user_env, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    menu = subprocess.run(
        [str(installed / "whoop-etl"), "menu"],
        input="1\n6\n\nq\n",  # sync, export daily to the offered folder, quit
        env=user_env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert menu.returncode == 0 and "Traceback" not in menu.stdout + menu.stderr, menu.stderr
    data = tmp_path / "share" / "whoop-etl" / "data"
    assert "All synced." in menu.stdout and f"daily.csv written to {data / 'daily.csv'}" in menu.stdout
    assert (data / "daily.csv").read_text().startswith("day,") and list(work.iterdir()) == []
