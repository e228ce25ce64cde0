"""Packaging: one version, one set of pins, and an installed copy's data in the user's folders."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import tomllib
from click.testing import CliRunner

from configuration import settings
from configuration.version import __version__
from etl import cli

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([0-9][0-9A-Za-z.+\-]*)$")


def requirement_lines(name: str) -> list[str]:
    """The requirement lines of a requirements file (no comments, no options)."""
    lines = [line.split("#")[0].strip() for line in (ROOT / name).read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("-")]


def test_the_package_takes_its_dependencies_and_version_from_one_place_each():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert set(project["project"]["dynamic"]) == {"version", "dependencies", "optional-dependencies"}
    dynamic = project["tool"]["setuptools"]["dynamic"]
    assert dynamic["dependencies"] == {"file": ["requirements.txt"]}
    assert dynamic["optional-dependencies"] == {"mcp": {"file": ["requirements-mcp.txt"]}}
    assert dynamic["version"] == {"attr": "configuration.version.__version__"}
    assert "dependencies" not in project["project"] and "version" not in project["project"]


def test_every_requirement_is_pinned_exactly_once():
    runtime = requirement_lines("requirements.txt") + requirement_lines("requirements-mcp.txt")
    dev = requirement_lines("requirements-dev.txt")
    assert {"-r requirements.txt", "-r requirements-mcp.txt"} <= set(
        (ROOT / "requirements-dev.txt").read_text().splitlines()
    )
    for line in runtime + dev:
        assert PIN.match(line), f"{line!r} is not pinned with =="
    names = [PIN.match(line).group(1).lower() for line in runtime + dev]
    assert len(names) == len(set(names)), "a package is pinned twice"


def test_version_is_pep_440_and_shown_by_the_cli():
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?", __version__)
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"whoop-etl, version {__version__}"


def test_the_installed_modules_are_the_ones_etl_imports():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    shipped = set(project["py-modules"]) | {p.split(".")[0] for p in project["packages"]}
    imported = set()
    for path in [*ROOT.glob("*.py"), *(p for package in shipped for p in ROOT.glob(f"{package}/*.py"))]:
        for match in re.finditer(r"^\s*(?:from|import) ([a-z_]+)", path.read_text(), re.MULTILINE):
            if (ROOT / f"{match.group(1)}.py").exists() or (ROOT / match.group(1)).is_dir():
                imported.add(match.group(1))
    assert imported - {"tests", "sandbox", "bench", "scripts"} <= shipped


def test_a_checkout_keeps_its_data_beside_the_code():
    assert settings.home_dirs() == (settings.PROJECT_DIR, settings.PROJECT_DIR)
    assert settings.default_database_url() == f"sqlite:///{settings.PROJECT_DIR / 'data' / 'whoop.db'}"


@pytest.mark.skipif(sys.platform != "linux", reason="XDG folders are the Linux convention")
def test_an_installed_copy_uses_the_platform_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "PROJECT_DIR", tmp_path / "site-packages")  # no pyproject.toml there
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    config, data = settings.home_dirs()
    assert config == tmp_path / "config" / "whoop-etl"
    assert data == tmp_path / "share" / "whoop-etl"
    assert (
        settings.get_settings(read_dotenv=False).database_url
        == f"sqlite:///{tmp_path / 'share' / 'whoop-etl' / 'data' / 'whoop.db'}"
    )
    (tmp_path / "share" / "whoop-etl" / "mine").mkdir(parents=True)  # only data/ is created for you
    monkeypatch.setenv("DATABASE_URL", "sqlite:///mine/health.db")
    assert (
        settings.get_settings(read_dotenv=False).database_url
        == f"sqlite:///{tmp_path / 'share' / 'whoop-etl' / 'mine' / 'health.db'}"
    )


def test_a_cron_only_install_leaves_out_the_mcp_sdk():
    assert not any(line.lower().startswith("mcp") for line in requirement_lines("requirements.txt"))
    assert [line.split("==")[0] for line in requirement_lines("requirements-mcp.txt")] == ["mcp"]


def test_without_the_extra_the_mcp_command_says_how_to_add_it(monkeypatch):
    for name in [n for n in sys.modules if n.startswith(("mcp.", "mcp_server."))]:
        monkeypatch.delitem(sys.modules, name)  # imported by earlier tests: forget them for this one
    monkeypatch.setitem(sys.modules, "mcp", None)  # what `import mcp` meets where the extra is absent
    result = CliRunner().invoke(cli, ["mcp"])
    assert result.exit_code == 2
    assert "optional extra: add it with `.venv/bin/pip install -r requirements-mcp.txt`" in result.output  # a checkout
    assert "Traceback" not in result.output
