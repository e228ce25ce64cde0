"""The README says what a newcomer will find: the Python version pyproject asks for, commands that
exist, the requests a routine run makes, every setting there is."""

from __future__ import annotations

import re

import click
import pytest
import tomllib
from click.testing import CliRunner

import etl
from configuration import settings
from sync import resources
from tests.conftest import PROJECT_DIR
from tests.helpers.etl import root_commands, run_etl

README = (PROJECT_DIR / "README.md").read_text()
DOCS = {name: (PROJECT_DIR / name).read_text() for name in ("README.md", "docs/deploy/README.md")}
# A command line as the docs write it: `whoop-etl status --check`, `python etl.py quarantine show 12`
# (not a quoted mail subject, "whoop-etl needs attention").
# Names that read like a command line but are not one.
NOT_COMMANDS = {"whoop-etl default", "whoop-etl alice"}  # Home Assistant devices (one per account)
COMMAND_LINE = re.compile(r"(?<!\")(?:python etl\.py|whoop-etl)((?: [a-z][a-z0-9_-]*)+)")


def named_commands() -> set[tuple[str, ...]]:
    """Every (command,) or (group, subcommand) the docs name."""
    named, commands = set(), root_commands()
    for text in DOCS.values():
        for match in COMMAND_LINE.finditer(text):
            if match.group(0) in NOT_COMMANDS:
                continue
            words = match.group(1).split()
            command = commands.get(words[0])
            assert command is not None, f"the docs name `{match.group(0)}`, but there is no `{words[0]}` command"
            if isinstance(command, click.Group) and len(words) > 1 and words[1] in command.commands:
                named.add((words[0], words[1]))
            elif isinstance(command, click.Group) and len(words) > 1:
                pytest.fail(f"the docs name `{match.group(0)}`, but `{words[0]}` has no `{words[1]}` subcommand")
            else:
                named.add((words[0],))
    return named


def test_the_python_version_is_pyprojects():
    wanted = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["requires-python"]
    version = wanted.removeprefix(">=")
    assert f"Python {version}+" in README
    assert not re.search(r"Python 3\.\d+\+", README.replace(f"Python {version}+", ""))


def test_every_command_the_docs_name_exists_and_has_help():
    named = named_commands()
    assert {("status",), ("backup",), ("menu",), ("quarantine", "show"), ("quarantine", "retry")} <= named
    for words in sorted(named):
        result = CliRunner().invoke(etl.cli, [*words, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, words


def test_every_setting_is_documented_and_every_stale_after_name_listed():
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", README, re.MULTILINE))
    assert set(settings.RANGES) <= documented
    for name in settings.stale_after_names():
        assert f"`{name}`" in README, name
    assert len(settings.stale_after_names()) == len(resources.RESOURCES)


def test_the_routine_run_makes_the_requests_the_readme_counts(etl_env, db_url):
    assert run_etl()[0] == 0
    assert run_etl()[0] == 0  # tokens fresh, cursors set: what every later run does
    etl_env.clear_requests()
    assert run_etl()[0] == 0
    api = [r for r in etl_env.requests if "oauth" not in r["path"] and r["path"] != "/v2/oauth2"]
    said = {int(n) for n in re.findall(r"(\d+) requests whether you have", README)}
    said |= {int(n) for n in re.findall(r"routine run makes (\d+) requests", README)}
    assert said == {len(api)}, [r["path"] for r in api]
