"""A routine run loads the run command and what it uses: no other command, no server, no publisher.

etl.py's root group loads a command's module when that command runs (or `--help` lists it), so a
cron run never pays for the dashboard, MCP, MQTT or webhook stacks. These checks run the real
command line in new processes, as a user's run does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

import etl
from commands import COMMANDS
from tests.helpers.etl import root_commands

PROJECT = Path(__file__).resolve().parents[2]
# What only other commands, or a configured extra, use.
NOT_ON_A_RUN = (
    "alembic",
    "anyio",
    "dashboard",
    "mcp",
    "mcp_server",
    "paho",
    "publish.publisher",
    "readers",
    "rich",
    "starlette",
    "uvicorn",
    "webhooks",
    "yaml",
)
RUN_COMMANDS = {"commands", "commands.run", "commands.common"}


def _imported(tmp_path: Path, *args: str) -> set[str]:
    """Every module `python etl.py ARGS` had imported when it exited (sys.modules, so modules a
    command group loads through importlib count too)."""
    listing = tmp_path / "modules.txt"
    code = (
        "import atexit, runpy, sys\n"
        f"atexit.register(lambda: open({str(listing)!r}, 'w').write('\\n'.join(sys.modules)))\n"
        f"sys.argv = ['etl.py', *{list(args)!r}]\n"
        "runpy.run_path('etl.py', run_name='__main__')\n"
    )
    env = {**os.environ, "WHOOP_PLATFORM_NO_DOTENV": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return set(listing.read_text().split())


def _under(imported: set[str], packages) -> set[str]:
    return {m for m in imported if any(m == p or m.startswith(p + ".") for p in packages)}


def test_a_routine_run_imports_no_other_command_and_no_server(etl_env, db_url, tmp_path):
    imported = _imported(tmp_path, "--quiet", "--since", "7d")
    assert {"sync.runner", "db_loader", "requests"} <= imported  # the run ran, and the listing is complete
    assert _under(imported, ["commands"]) == RUN_COMMANDS
    assert not _under(imported, NOT_ON_A_RUN)


def test_a_command_loads_its_own_module_only(tmp_path):
    imported = _imported(tmp_path, "backup", "--help")
    assert _under(imported, ["commands"]) == RUN_COMMANDS | {"commands.backup"}


def test_every_declared_command_loads_under_its_name_and_help_lists_it():
    loaded = root_commands()
    assert set(loaded) == set(COMMANDS)
    assert all(isinstance(command, click.Command) and command.name == name for name, command in loaded.items())
    listing = subprocess.run(
        [sys.executable, "etl.py", "--help"], cwd=PROJECT, capture_output=True, text=True, timeout=60
    ).stdout
    for name, command in loaded.items():
        assert f"  {name} " in listing and command.get_short_help_str()[:20] in listing, name


def test_an_unknown_command_is_a_usage_error():
    ctx = click.Context(etl.cli)
    assert etl.cli.get_command(ctx, "nosuch") is None
    with pytest.raises(click.UsageError):
        etl.cli.resolve_command(ctx, ["nosuch"])
